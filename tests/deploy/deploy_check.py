#!/usr/bin/env python3
"""The deployment files checked offline (ctest deploy.check, label `deploy`).

There is no container engine on the machines this project is built on, so nothing here starts a
container; everything is read by the tools that read these files for real, or checked against the
binary they deploy:

- deploy/compose/compose.yaml: `docker-compose config` (Debian's docker-compose 1.29) accepts it,
  with real secrets made by deploy/compose/init-secrets, and none of their values appears in its
  output; the secrets it mounts are exactly those init-secrets makes; the seed's ports; every
  long-running service has a healthcheck and every dependency a condition; every scrutin flag and
  SCRUTIN_* variable it uses exists in `scrutin <command> --help` ($SCRUTIN_BIN), and every
  /run/secrets path it names is mounted in that service.
- deploy/compose/nginx.conf: `nginx -t`; deploy/prometheus/prometheus-compose.yml: `promtool check
  config`; deploy/grafana/provisioning: the data source and dashboards folder Compose mounts.
- deploy/docker/Dockerfile: dockerfile-utils (npm, this folder's package.json: the Docker language
  server's validator) finds no problem; the practices that matter (multi-stage, non-root USER, no
  ADD, exec-form ENTRYPOINT/CMD/HEALTHCHECK, tagged base images, apt hygiene, no secret copied);
  the runtime packages are exactly those of the binary's shared libraries (readelf + dpkg -S); the
  build packages are scripts/install-deps's; .dockerignore keeps secrets out and what the build
  copies in; its HEALTHCHECK is `scrutin health` (exec form, no helper script, no shell), and
  that subcommand works against a local HTTP server.
"""

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
HERE = Path(__file__).resolve().parent


def scrutin_bin():
    path = os.environ.get("SCRUTIN_BIN") or str(ROOT / "build/release/src/apps/scrutin")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"no scrutin binary at {path} (set SCRUTIN_BIN)")
    return path


def clean_env(**extra):
    """The caller's environment without what would change the files' interpolation."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCRUTIN_", "COMPOSE_", "DOCKER_"))}
    env.update(extra)
    return env


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def is_scrutin_service(svc):
    return "scrutin" in str(svc.get("image", "")) and "build" in svc


# ------------------------------------------------------------------------------------------------
# Compose


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("docker-compose"):
            raise AssertionError("docker-compose is missing: scripts/install-deps installs it")
        cls.tmp = tempfile.TemporaryDirectory(prefix="scrutin-deploy-")
        # A copy of deploy/compose at the same depth (the build context ../.. must exist), with
        # real secrets made by init-secrets (no chown: this is not root's business here).
        cls.copy = Path(cls.tmp.name) / "deploy" / "compose"
        shutil.copytree(COMPOSE_DIR, cls.copy, ignore=shutil.ignore_patterns("secrets"))
        made = run([str(COMPOSE_DIR / "init-secrets"), "--dir", str(cls.copy / "secrets"),
                    "--bin", scrutin_bin(), "--no-chown"], env=clean_env())
        if made.returncode != 0:
            raise AssertionError(f"init-secrets failed:\n{made.stdout}{made.stderr}")
        cls.secret_files = sorted(p.name for p in (cls.copy / "secrets").iterdir())
        result = run(["docker-compose", "-f", str(cls.copy / "compose.yaml"), "config"],
                     env=clean_env(), cwd=cls.tmp.name)
        cls.config_rc, cls.config_text, cls.config_err = (result.returncode, result.stdout,
                                                          result.stderr)
        cls.config = yaml.safe_load(result.stdout) if result.returncode == 0 else None
        cls.source = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def services(self):
        self.assertIsNotNone(self.config, self.config_err)
        return self.config["services"]

    def test_config_accepted(self):
        self.assertEqual(self.config_rc, 0, self.config_err)
        # Anything docker-compose says it ignores would be silently missing at `up`.
        self.assertNotIn("will be ignored", self.config_err)
        self.assertNotIn("not supported", self.config_err)

    def test_no_secret_in_config_output(self):
        self.services()
        for name in self.secret_files:
            if name == "record.pub":
                continue
            for line in (self.copy / "secrets" / name).read_text().splitlines():
                value = line.split()[-1] if line.split() else ""
                for secret in {line.strip(), value.split(":")[-1], value}:
                    if len(secret) >= 16:
                        self.assertNotIn(secret, self.config_text,
                                         f"a value of secrets/{name} is in `docker-compose config`")
        self.assertIsNone(re.search(r"\w+://[^/\s@:]*:[^/\s@]+@", self.config_text),
                          "a URL with a password in `docker-compose config`")
        for sname, svc in self.services().items():
            for key, value in (svc.get("environment") or {}).items():
                if re.search(r"PASS|TOKEN|SECRET|KEY", key):
                    self.assertTrue(key.endswith("FILE") and
                                    str(value).startswith("/run/secrets/"),
                                    f"{sname}: {key} must name a file under /run/secrets")

    def test_secrets_are_those_init_secrets_makes(self):
        declared = {Path(s["file"]).name for s in self.config["secrets"].values()}
        made = set(self.secret_files) - {"record.pub"}
        self.assertEqual(declared, made)
        for name in made:
            mode = (self.copy / "secrets" / name).stat().st_mode & 0o777
            self.assertEqual(mode, 0o600, f"secrets/{name} has mode {mode:o}")
        for sname, svc in self.services().items():
            for s in svc.get("secrets", []):
                self.assertIn(s["source"], self.config["secrets"], sname)

    def test_seed_ports_published(self):
        published = {}
        for sname, svc in self.services().items():
            for port in svc.get("ports", []):
                m = re.match(r"^(?:([\d.]+):)?(\d+):(\d+)", str(port))
                self.assertIsNotNone(m, f"{sname}: port {port!r}")
                published[int(m.group(2))] = (sname, m.group(1))
        seed = {8000: "lb", 15672: "rabbitmq", 6379: "redis", 5432: "postgres", 3000: "grafana",
                9090: "prometheus"}
        for port, sname in seed.items():
            self.assertIn(port, published, f"the seed's port {port} ({sname})")
            self.assertEqual(published[port][0], sname)
        for port, (sname, address) in published.items():
            self.assertEqual(address, "127.0.0.1", f"{sname}:{port} must be bound to loopback")

    def test_healthchecks_and_dependencies(self):
        services = self.services()
        one_shot = {n for n, s in services.items() if s.get("restart") == "no"}
        self.assertEqual(one_shot, {"demo-election", "load-hashes"})
        for sname, svc in services.items():
            if sname not in one_shot and sname != "lb":
                hc = svc.get("healthcheck")
                self.assertTrue(hc and not hc.get("disable") and hc.get("test"),
                                f"{sname} has no healthcheck")
            for dep, how in (svc.get("depends_on") or {}).items():
                condition = how.get("condition")
                if dep in one_shot:
                    self.assertEqual(condition, "service_completed_successfully",
                                     f"{sname}→{dep}")
                else:
                    self.assertEqual(condition, "service_healthy", f"{sname}→{dep}")
        self.assertEqual(services["api"]["deploy"]["replicas"], 2)
        self.assertEqual(services["validator"]["deploy"]["replicas"], 2)
        self.assertEqual(services["redis"]["command"][services["redis"]["command"].index(
            "--appendonly") + 1], "yes")
        self.assertTrue(any(v.endswith(":/var/lib/postgresql/data")
                            for v in self.source["services"]["postgres"]["volumes"]))

    def test_scrutin_flags_exist(self):
        """Every flag and SCRUTIN_* variable given to scrutin exists in its --help."""
        binary = scrutin_bin()
        helps = {}

        def help_of(sub):
            if sub not in helps:
                out = run([binary, *sub.split(), "--help"])
                self.assertEqual(out.returncode, 0, f"scrutin {sub} --help: {out.stderr}")
                helps[sub] = out.stdout
            return helps[sub]

        checked = 0
        for sname, svc in self.source["services"].items():
            if "<<" not in svc and not is_scrutin_service(svc):
                continue
            invocations = []  # (subcommand, [flags])
            command = svc.get("command")
            if isinstance(command, list) and command and not command[0].startswith("if "):
                words = [str(w) for w in command]
                sub = words[0]
                if sub in ("ledger", "deadletter", "voters"):
                    sub = " ".join(words[:2])
                invocations.append((sub, [w for w in words if w.startswith("--")]))
            else:  # a shell script (demo-election): each `scrutin SUB [SUB2] --flags ...`
                script = "\n".join(command if isinstance(command, list) else [command])
                script = script.replace("\\\n", " ")
                for m in re.finditer(r"\bscrutin ((?:[a-z-]+ )+?)(--[^\n]*)", script):
                    invocations.append((m.group(1).strip(),
                                        re.findall(r"(?<!\S)(--[a-z][a-z-]*)", m.group(2))))
            self.assertTrue(invocations, f"{sname}: no scrutin command found")
            mounted = {s if isinstance(s, str) else s.get("target", s["source"])
                       for s in svc.get("secrets", [])}
            # The healthcheck: `scrutin health [flags]`, exec form, its flags in its --help.
            test = (svc.get("healthcheck") or {}).get("test")
            if test and not (svc.get("healthcheck") or {}).get("disable"):
                self.assertEqual(test[:3], ["CMD", "/opt/scrutin/bin/scrutin", "health"],
                                 f"{sname}: healthcheck")
                invocations.append(("health", [w for w in test if str(w).startswith("--")]))
            for sub, flags in invocations:
                text = help_of(sub)
                for flag in flags:
                    self.assertRegex(text, rf"(?m)^\s+(-\w,)?{re.escape(flag)}\b",
                                     f"{sname}: `scrutin {sub}` has no {flag}")
                    checked += 1
                for key in svc.get("environment") or {}:
                    if sub == "health":  # the service's environment is its command's
                        break
                    if not key.startswith("SCRUTIN_") or key == "SCRUTIN_DEMO_VOTERS":
                        continue
                    if key.startswith("SCRUTIN_HEALTH_"):
                        self.assertIn(f"(Env:{key})", help_of("health"), f"{sname}: {key}")
                    else:
                        self.assertIn(f"(Env:{key})", text, f"{sname}: `scrutin {sub}`: {key}")
                    checked += 1
            words = json.dumps([svc.get("command"), svc.get("environment")])
            for secret in re.findall(r"/run/secrets/([\w.-]+)", words):
                self.assertIn(secret, mounted, f"{sname} names /run/secrets/{secret}")
        self.assertGreater(checked, 20)

    def test_nginx_conf(self):
        if not shutil.which("nginx"):
            self.fail("nginx is missing: scripts/install-deps installs it")
        with tempfile.TemporaryDirectory() as d:
            conf = (COMPOSE_DIR / "nginx.conf").read_text()
            conf = re.sub(r"(?m)^pid .*$", f"pid {d}/nginx.pid;", conf)
            Path(d, "nginx.conf").write_text(conf)
            out = run(["nginx", "-t", "-p", d, "-c", f"{d}/nginx.conf", "-e", "/dev/stderr"])
            self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("http://api:8000", conf)

    def test_prometheus_config(self):
        if not shutil.which("promtool"):
            self.fail("promtool is missing: scripts/install-deps installs prometheus")
        prom = self.source["services"]["prometheus"]
        config_path = next(c.split("=", 1)[1] for c in prom["command"]
                           if c.startswith("--config.file="))
        self.assertTrue(config_path.startswith("/etc/prometheus/"))
        name = Path(config_path).name
        self.assertIn("../prometheus:/etc/prometheus:ro", prom["volumes"])
        text = (DEPLOY / "prometheus" / name).read_text()
        cfg = yaml.safe_load(text)
        job = cfg["scrape_configs"][0]
        self.assertEqual(job["job_name"], "scrutin")  # the alerts select job="scrutin"
        token = job["authorization"]["credentials_file"]
        self.assertEqual(token, "/run/secrets/admin_token_prometheus")
        self.assertIn("admin_token_prometheus", prom["secrets"])
        names = job["dns_sd_configs"][0]["names"]
        self.assertEqual(set(names), {"api", "validator", "aggregator"})
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(DEPLOY / "prometheus" / "alerts.yml", d)
            Path(d, "token").write_text("0" * 64 + "\n")
            Path(d, name).write_text(text.replace(token, f"{d}/token"))
            out = run(["promtool", "check", "config", f"{d}/{name}"])
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_grafana_provisioning(self):
        graf = self.source["services"]["grafana"]
        mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in graf["volumes"]
                      if v.startswith("../"))
        self.assertEqual(mounts["../grafana/provisioning"], "/etc/grafana/provisioning")
        ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
                            .read_text())["datasources"][0]
        self.assertEqual(ds["type"], "prometheus")
        self.assertEqual(ds["url"], "http://prometheus:9090")
        provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/scrutin.yml")
                                  .read_text())["providers"][0]
        self.assertEqual(mounts["../grafana/dashboards"], provider["options"]["path"])
        for dashboard in (DEPLOY / "grafana/dashboards").glob("*.json"):
            self.assertIn("panels", json.loads(dashboard.read_text()), dashboard.name)


# ------------------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_instructions(text):
    """[(line number, INSTRUCTION, arguments)] with continuations joined and comments dropped."""
    out, buf, start = [], "", 0
    for n, line in enumerate(text.splitlines(), 1):
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if not buf:
            start = n
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    return out


def dockerignore_excludes(patterns, path):
    """Docker's .dockerignore rule: the last matching pattern wins, `!` re-includes; a pattern
    matching a directory excludes what is under it."""
    excluded = False
    for raw in patterns:
        neg = raw.startswith("!")
        pat = raw[1:] if neg else raw
        pat = pat.strip("/")
        rx = ""
        i = 0
        while i < len(pat):
            if pat.startswith("**/", i):
                rx += "(?:.*/)?"
                i += 3
            elif pat.startswith("**", i):
                rx += ".*"
                i += 2
            elif pat[i] == "*":
                rx += "[^/]*"
                i += 1
            elif pat[i] == "?":
                rx += "[^/]"
                i += 1
            else:
                rx += re.escape(pat[i])
                i += 1
        if re.fullmatch(rx + "(?:/.*)?", path):
            excluded = not neg
    return excluded


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = DOCKERFILE.read_text()
        cls.ins = dockerfile_instructions(cls.text)
        args = {}
        for _, word, rest in cls.ins:
            if word == "ARG" and "=" in rest:
                k, v = rest.split("=", 1)
                args.setdefault(k, v)
        cls.args = args
        cls.stages = []  # [(image, [instructions])]
        for item in cls.ins:
            if item[1] == "FROM":
                image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""),
                               item[2].split()[0])
                cls.stages.append((image, []))
            elif cls.stages:
                cls.stages[-1][1].append(item)

    def final(self):
        return self.stages[-1][1]

    def apt_packages(self, stage):
        pkgs = []
        for _, word, rest in stage:
            if word == "RUN" and "apt-get install" in rest:
                self.assertIn("--no-install-recommends", rest)
                self.assertRegex(rest, r"apt-get install -y\b")
                self.assertIn("rm -rf /var/lib/apt/lists/*", rest)
                part = rest.split("apt-get install", 1)[1].split("&&")[0]
                pkgs += [w for w in part.split() if not w.startswith("-")]
        return pkgs

    def test_dockerfile_utils_lint(self):
        tool = HERE / "node_modules" / ".bin" / "dockerfile-utils"
        if not tool.exists():
            if not shutil.which("npm"):
                self.fail("npm is missing: scripts/install-deps installs it")
            # As scripts/e2e-deps does for tests/e2e and tests/docs (from the lockfile).
            print("deploy.check: npm ci in tests/deploy (dockerfile-utils)", file=sys.stderr)
            out = run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE)
            self.assertEqual(out.returncode, 0, out.stderr)
        out = run([str(tool), "lint", str(DOCKERFILE)])
        self.assertEqual((out.returncode, out.stdout.strip()), (0, ""), out.stdout + out.stderr)

    def test_multi_stage_slim_runtime(self):
        self.assertGreaterEqual(len(self.stages), 2)
        self.assertRegex(self.stages[0][0], r"^debian:bookworm(@|$)")
        self.assertRegex(self.stages[-1][0], r"^debian:bookworm-slim(@|$)")
        for image, _ in self.stages:
            name, _, tag = image.partition("@")[0].partition(":")
            self.assertTrue(tag and tag != "latest", f"base image {image} needs a tag")
        build_lines = " ".join(r for _, w, r in self.stages[0][1] if w == "RUN")
        self.assertIn("cmake --preset release", build_lines)
        self.assertIn("--target scrutin", build_lines)

    def test_non_root_exec_form_no_add(self):
        for n, word, rest in self.ins:
            self.assertNotEqual(word, "ADD", f"line {n}: COPY, never ADD (no URL, no archive)")
        users = [r for _, w, r in self.final() if w == "USER"]
        self.assertTrue(users, "the final stage sets no USER")
        self.assertNotRegex(users[-1].split(":")[0], r"^(root|0)$")
        for word in ("ENTRYPOINT", "CMD"):
            values = [r for _, w, r in self.final() if w == word]
            self.assertTrue(values, f"no {word}")
            self.assertIsInstance(json.loads(values[-1]), list, f"{word} must be exec form")
        health = [r for _, w, r in self.final() if w == "HEALTHCHECK"]
        self.assertEqual(len(health), 1, "one HEALTHCHECK")
        cmd = health[0].split(" CMD ", 1)[1]
        self.assertIsInstance(json.loads(cmd), list, "HEALTHCHECK CMD must be exec form")
        labels = " ".join(r for _, w, r in self.final() if w == "LABEL")
        for key in ("title", "description", "version", "revision"):
            self.assertIn(f"org.opencontainers.image.{key}=", labels)

    def test_no_secret_copied(self):
        for n, word, rest in self.ins:
            if word == "COPY":
                self.assertNotRegex(rest, r"\.(key|token|pem)\b|secrets", f"line {n}")
            if word in ("ENV", "ARG"):
                self.assertNotRegex(rest, r"(?i)password|token|secret", f"line {n}")

    def test_runtime_packages_are_the_binarys_libraries(self):
        binary = scrutin_bin()
        if not shutil.which("readelf") or not shutil.which("dpkg"):
            self.skipTest("readelf or dpkg missing")
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            run(["readelf", "-d", binary]).stdout)
        self.assertTrue(needed)
        libdirs = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib",
                   "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]
        wanted = set()
        for lib in needed:
            path = next((os.path.realpath(f"{d}/{lib}") for d in libdirs
                         if os.path.exists(f"{d}/{lib}")), None)
            self.assertIsNotNone(path, lib)
            owner = run(["dpkg", "-S", path])
            if owner.returncode != 0:  # usrmerge: dpkg knows the /usr/lib path or the /lib one
                alt = path[4:] if path.startswith("/usr/") else "/usr" + path
                owner = run(["dpkg", "-S", alt])
            self.assertEqual(owner.returncode, 0, f"dpkg -S {path}: {owner.stderr}")
            wanted.add(owner.stdout.split(":")[0])
        in_slim = {"libc6", "libstdc++6", "libgcc-s1"}  # essential in debian:bookworm-slim
        runtime = set(self.apt_packages(self.final()))
        self.assertEqual(wanted - in_slim - runtime, set(), "libraries missing from the image")
        self.assertEqual(runtime - wanted - {"ca-certificates"}, set(),
                         "packages the binary does not need")

    def test_build_packages_come_from_install_deps(self):
        deps = (ROOT / "scripts" / "install-deps").read_text()
        listed = set(re.sub(r"#.*", "", deps.split("packages=(", 1)[1].split(")", 1)[0]).split())
        build = set(self.apt_packages(self.stages[0][1]))
        self.assertTrue(build)
        self.assertEqual(build - listed, set(), "build packages scripts/install-deps lacks")

    def test_web_files_next_to_binary(self):
        copies = [r for _, w, r in self.final() if w == "COPY"]
        binary = next(c.split()[-1] for c in copies if c.split()[-2].endswith("/apps/scrutin"))
        web = next(c.split()[-1] for c in copies if c.split()[-2].rstrip("/").endswith("/web"))
        self.assertEqual(web.rstrip("/"), str(Path(binary).parent / "web"))

    def test_dockerignore(self):
        patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
        for _, word, rest in self.ins:
            if word != "COPY" or "--from=" in rest:
                continue
            for src in rest.split()[:-1]:
                self.assertTrue((ROOT / src).exists(), f"COPY {src}: no such file")
                self.assertFalse(dockerignore_excludes(patterns, src.rstrip("/")),
                                 f".dockerignore excludes {src}, which the Dockerfile copies")
        for secret in ("deploy/compose/secrets/election.key", "demo/election/election.key",
                       "src/stray.key", "x/admin.token", "tls/api.pem", ".git",
                       "build/release/src/apps/scrutin", "tests/e2e/node_modules/x",
                       "demo/election/voters.csv"):
            self.assertTrue(dockerignore_excludes(patterns, secret), f"{secret} is in the context")

    def test_healthcheck_is_the_binary(self):
        """No helper script and no shell: the HEALTHCHECK runs `scrutin health` (exec form)."""
        self.assertEqual(sorted(p.name for p in (DEPLOY / "docker").iterdir()), ["Dockerfile"])
        health = [r for _, w, r in self.final() if w == "HEALTHCHECK"]
        self.assertEqual(json.loads(health[0].split(" CMD ", 1)[1]),
                         ["/opt/scrutin/bin/scrutin", "health"])
        copied = " ".join(r for _, w, r in self.final() if w == "COPY")
        self.assertNotIn("libexec", copied)

    def test_health_subcommand(self):
        """`scrutin health` against a local server: 200 healthy, anything else (or nothing
        listening) unhealthy, the token sent from --token-file / SCRUTIN_HEALTH_TOKEN_FILE."""
        with tempfile.TemporaryDirectory() as d:
            token_file = Path(d, "token")
            token_file.write_text("t" * 40 + "\n")
            token_file.chmod(0o600)
            self.assertEqual(self.probe(None, "/readyz", []), 0)
            self.assertEqual(self.probe(None, "/nothing-here", []), 1)
            self.assertEqual(self.probe("t" * 40, "/health", []), 1)
            self.assertEqual(self.probe("t" * 40, "/health", ["--token-file", str(token_file)]), 0)
            self.assertEqual(self.probe("t" * 40, "/health", [],
                                        {"SCRUTIN_HEALTH_TOKEN_FILE": str(token_file)}), 0)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            out = run([scrutin_bin(), "health", "--url", f"http://127.0.0.1:{port}/readyz"],
                      env=clean_env())
            self.assertEqual(out.returncode, 1)
            self.assertIn("cannot connect", out.stderr)

    def probe(self, token, path, args, env=None):
        """`scrutin health` on PATH of a local server wanting TOKEN on /health (None: no
        token): its exit code."""

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/readyz":
                    ok = True
                elif self.path == "/health":
                    ok = token is None or self.headers.get("Authorization") == f"Bearer {token}"
                else:
                    ok = False
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            out = run([scrutin_bin(), "health", "--url",
                       f"http://127.0.0.1:{server.server_port}{path}", *args],
                      env=clean_env(**(env or {})))
            if token:
                self.assertNotIn(token, out.stdout + out.stderr)
            return out.returncode
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

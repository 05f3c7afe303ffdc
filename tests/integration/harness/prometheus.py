"""A real Prometheus (Debian's package) started from deploy/prometheus, scraping given targets.

    with Prometheus(tmp_dir, ["127.0.0.1:8000"], labels={"shape": "embedded"}) as prom:
        prom.wait_for(lambda: prom.query('up == 1'), 60, "target never up")

The configuration and alert rules are copied from deploy/prometheus unchanged; only the targets
file (file service discovery) is written here. Prometheus listens on a free loopback port, keeps
its data in tmp_dir, and is stopped on exit.
"""

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from .server import HarnessError, free_port

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
DEPLOY_DIR = os.path.join(REPO_ROOT, "deploy", "prometheus")


def tool(name):
    path = shutil.which(name)
    if not path:
        raise HarnessError(f"{name} is missing: run scripts/install-deps (Debian package "
                           "prometheus)")
    return path


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


class Prometheus:
    def __init__(self, tmp_dir, targets, labels=None):
        self.dir = tmp_dir
        self.conf = os.path.join(tmp_dir, "conf")
        shutil.copytree(DEPLOY_DIR, self.conf)
        os.makedirs(os.path.join(self.conf, "targets"), exist_ok=True)
        with open(os.path.join(self.conf, "targets", "scrutin.yml"), "w") as f:
            f.write("- targets: [" + ", ".join(f'"{t}"' for t in targets) + "]\n")
            if labels:
                f.write("  labels: {" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}\n")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(tmp_dir, "prometheus.log")
        self.proc = None
        self.log = None

    def __enter__(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [tool("prometheus"), f"--config.file={self.conf}/prometheus.yml",
             f"--storage.tsdb.path={self.dir}/tsdb", f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: http_status(self.base_url + "/-/ready") == 200, 60,
                      "Prometheus did not become ready")
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()

    def query(self, expr):
        """The result vector of an instant query (raises on an API error)."""
        url = self.base_url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = json.load(resp)
        if body.get("status") != "success":
            raise HarnessError(f"Prometheus query {expr!r} failed: {body}")
        return body["data"]["result"]

    def rule_names(self):
        with urllib.request.urlopen(self.base_url + "/api/v1/rules", timeout=5) as resp:
            groups = json.load(resp)["data"]["groups"]
        return {rule["name"] for g in groups for rule in g["rules"]}

    def wait_for(self, predicate, timeout, message):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if predicate():
                    return
            except (OSError, HarnessError):
                pass
            if time.monotonic() > deadline:
                tail = ""
                if os.path.exists(self.log_path):
                    with open(self.log_path) as f:
                        tail = f.read()[-2000:]
                raise HarnessError(f"{message} within {timeout} s; prometheus.log: {tail}")
            time.sleep(0.5)

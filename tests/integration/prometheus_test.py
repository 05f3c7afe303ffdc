#!/usr/bin/python3
"""The monitoring configuration in deploy/prometheus against the real thing.

promtool validates prometheus.yml and unit-tests the alert rules (alerts_test.yml); then Debian's
Prometheus, started from that very configuration on a free loopback port with a targets file
naming a running `scrutin serve`, scrapes it: the target is up, the series API.md requires are
there, a vote cast shows in votes_submitted_total, every alert rule is loaded, and none fires on a
healthy server (not even pending).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

DEPLOY = os.path.join(os.path.dirname(os.path.dirname(HERE)), "deploy", "prometheus")
REQUIRED = ["votes_submitted_total", "votes_validated_total", "votes_per_second",
            "validation_latency_seconds_bucket", "api_request_duration_seconds_bucket",
            "duplicate_attempts_total", "votes_by_law", "scrutin_store_sync_seconds_bucket"]


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def tool(name):
    path = shutil.which(name)
    if not path:
        raise harness.HarnessError(f"{name} is missing: run scripts/install-deps (Debian package "
                                   "prometheus)")
    return path


class PrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="scrutin-prometheus-")
        cls.prom = None
        cls.prom_log = None
        cls.server = None
        cls.passed = False

    @classmethod
    def tearDownClass(cls):
        if cls.prom is not None:
            cls.prom.terminate()
            try:
                cls.prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                cls.prom.kill()
                cls.prom.wait()
        if cls.prom_log is not None:
            cls.prom_log.close()
        if cls.server is not None:
            cls.server.kill()
        if os.environ.get("SCRUTIN_KEEP_TMP") == "1":
            print(f"files kept in {cls.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_config_is_valid_and_alert_rules_pass_their_unit_tests(self):
        conf = os.path.join(self.tmp, "conf")
        shutil.copytree(DEPLOY, conf)
        os.makedirs(os.path.join(conf, "targets"), exist_ok=True)
        check = subprocess.run([tool("promtool"), "check", "config", "prometheus.yml"], cwd=conf,
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("SUCCESS", check.stdout + check.stderr)
        rules = subprocess.run([tool("promtool"), "test", "rules", "alerts_test.yml"], cwd=conf,
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(rules.returncode, 0, rules.stdout + rules.stderr)

    def test_2_prometheus_scrapes_serve_with_this_configuration(self):
        ballot = harness.standard_ballot()
        electorate = harness.Electorate(os.path.join(self.tmp, "electorate"),
                                        [law.law_id for law in ballot.values()], count=50)
        laws_file = harness.write_laws(os.path.join(self.tmp, "laws.toml"), ballot.values())
        cls = type(self)
        cls.server = harness.Server(electorate, laws_file, os.path.join(self.tmp, "data"),
                                    os.path.join(self.tmp, "serve.log"))
        cls.server.start()

        conf = os.path.join(self.tmp, "live")
        shutil.copytree(DEPLOY, conf)
        os.makedirs(os.path.join(conf, "targets"))
        with open(os.path.join(conf, "targets", "serve.yml"), "w") as f:
            f.write(f'- targets: ["127.0.0.1:{cls.server.port}"]\n  labels: {{shape: embedded}}\n')
        port = harness.free_port()
        base = f"http://127.0.0.1:{port}"
        cls.prom_log = open(os.path.join(self.tmp, "prometheus.log"), "w")
        cls.prom = subprocess.Popen(
            [tool("prometheus"), f"--config.file={conf}/prometheus.yml",
             f"--storage.tsdb.path={self.tmp}/tsdb", f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn"],
            stdout=cls.prom_log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: http_status(base + "/-/ready") == 200, 60,
                      "Prometheus did not become ready")

        # A vote, so the counters have moved by the time of a scrape.
        law = ballot["open_a"]
        voter = next(v for v in electorate.registry.voters if law.law_id in v.laws)
        r = harness.Client(cls.server.base_url).post_vote(
            {"nas": voter.nas, "code": voter.code, "law_id": law.law_id, "vote": "oui"})
        self.assertEqual(r.status, 202, r.text())

        def query(expr):
            url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(url, timeout=5) as resp:
                body = json.load(resp)
            self.assertEqual(body["status"], "success", body)
            return body["data"]["result"]

        self.wait_for(lambda: [s["value"][1] for s in query('up{job="scrutin"}')] == ["1"], 60,
                      "the serve target never came up in Prometheus")
        self.wait_for(lambda: any(float(s["value"][1]) >= 1
                                  for s in query("votes_submitted_total")), 60,
                      "the vote never showed in votes_submitted_total")
        for name in REQUIRED:
            self.assertTrue(query(f'count({{__name__="{name}", job="scrutin"}})'),
                            f"{name} was not scraped")
        target = query('up{job="scrutin"}')[0]["metric"]
        self.assertEqual(target.get("shape"), "embedded")  # labels from the targets file

        with urllib.request.urlopen(base + "/api/v1/rules", timeout=5) as resp:
            groups = json.load(resp)["data"]["groups"]
        names = {rule["name"] for g in groups for rule in g["rules"]}
        self.assertGreaterEqual(len(names), 8, names)
        self.assertIn("ScrutinProcessDown", names)
        alerts = query("ALERTS")  # firing or pending
        self.assertEqual(alerts, [], f"alerts on a healthy server: {alerts}")

    def wait_for(self, predicate, timeout, message):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if predicate():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                log = os.path.join(self.tmp, "prometheus.log")
                tail = open(log).read()[-2000:] if os.path.exists(log) else ""
                self.fail(f"{message} within {timeout} s; prometheus.log: {tail}")
            time.sleep(0.5)


if __name__ == "__main__":
    unittest.main(verbosity=2)

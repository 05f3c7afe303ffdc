#!/usr/bin/python3
"""The monitoring configuration in deploy/prometheus against the real thing.

promtool validates prometheus.yml and unit-tests the alert rules (alerts_test.yml); then Debian's
Prometheus, started from that very configuration with a targets file naming a running
`scrutin serve`, scrapes it: the target is up, the series of README "Metrics" are there, a vote cast
shows in votes_submitted_total, every alert rule is loaded, and none is pending or firing on a
healthy server. (tests/distributed/contract_test.py does the same for the distributed shape.)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import prometheus  # noqa: E402

REQUIRED = ["votes_submitted_total", "votes_validated_total", "votes_per_second",
            "validation_latency_seconds_bucket", "api_request_duration_seconds_bucket",
            "duplicate_attempts_total", "votes_by_law", "scrutin_store_sync_seconds_bucket"]


class PrometheusTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="scrutin-prometheus-")
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.kill()
        if os.environ.get("SCRUTIN_KEEP_TMP") == "1":
            print(f"files kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def test_config_is_valid_and_alert_rules_pass_their_unit_tests(self):
        conf = os.path.join(self.tmp, "conf")
        shutil.copytree(prometheus.DEPLOY_DIR, conf)
        os.makedirs(os.path.join(conf, "targets"), exist_ok=True)
        check = subprocess.run([prometheus.tool("promtool"), "check", "config", "prometheus.yml"],
                               cwd=conf, capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        rules = subprocess.run([prometheus.tool("promtool"), "test", "rules", "alerts_test.yml"],
                               cwd=conf, capture_output=True, text=True, timeout=60)
        self.assertEqual(rules.returncode, 0, rules.stdout + rules.stderr)

    def test_prometheus_scrapes_serve_with_this_configuration(self):
        ballot = harness.standard_ballot()
        electorate = harness.Electorate(os.path.join(self.tmp, "electorate"),
                                        [law.law_id for law in ballot.values()], count=50)
        laws_file = harness.write_laws(os.path.join(self.tmp, "laws.toml"), ballot.values())
        self.server = harness.Server(electorate, laws_file, os.path.join(self.tmp, "data"),
                                     os.path.join(self.tmp, "serve.log"))
        self.server.start()
        law = ballot["open_a"]
        voter = next(v for v in electorate.registry.voters if law.law_id in v.laws)
        r = harness.Client(self.server.base_url).post_vote(
            {"nas": voter.nas, "code": voter.code, "law_id": law.law_id, "vote": "oui"})
        self.assertEqual(r.status, 202, r.text())

        os.makedirs(os.path.join(self.tmp, "prom"))
        with prometheus.Prometheus(os.path.join(self.tmp, "prom"),
                                   [f"127.0.0.1:{self.server.port}"],
                                   labels={"shape": "embedded"}) as prom:
            prom.wait_for(lambda: [s["value"][1] for s in prom.query('up{job="scrutin"}')] == ["1"],
                          60, "the serve target never came up in Prometheus")
            prom.wait_for(lambda: any(float(s["value"][1]) >= 1
                                      for s in prom.query("votes_submitted_total")), 60,
                          "the vote never showed in votes_submitted_total")
            for name in REQUIRED:
                self.assertTrue(prom.query(f'count({{__name__="{name}", job="scrutin"}})'),
                                f"{name} was not scraped")
            target = prom.query('up{job="scrutin"}')[0]["metric"]
            self.assertEqual(target.get("shape"), "embedded")  # labels from the targets file
            names = prom.rule_names()
            self.assertGreaterEqual(len(names), 8, names)
            self.assertIn("ScrutinProcessDown", names)
            alerts = prom.query("ALERTS")  # firing or pending
            self.assertEqual(alerts, [], f"alerts on a healthy server: {alerts}")


if __name__ == "__main__":
    unittest.main(verbosity=2)

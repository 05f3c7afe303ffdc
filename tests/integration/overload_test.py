#!/usr/bin/python3
"""Overload of the embedded shape (docs/architecture.md guarantee 1, docs/openapi.yaml 503): with a
tiny commit queue (--max-queue 1 --max-batch 1) a burst of concurrent votes gets some 503s with
Retry-After, and a 503 records nothing: the same voter voting again afterwards is `accepted`, never
`duplicate`. Every 202 is counted, every 503 is not, and the results equal the accepted votes.
"""

import collections
import os
import shutil
import sys
import tempfile
import threading
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

CLIENTS = 60
BURSTS = 5


class OverloadTest(unittest.TestCase):
    def setUp(self):
        self.passed = False
        self.tmp = tempfile.mkdtemp(prefix="scrutin-overload-")
        ballot = harness.standard_ballot()
        self.law = ballot["open_a"].law_id
        self.electorate = harness.Electorate(os.path.join(self.tmp, "electorate"), [self.law],
                                             count=CLIENTS * BURSTS)
        laws = harness.write_laws(os.path.join(self.tmp, "laws.toml"), ballot.values())
        self.server = harness.Server(self.electorate, laws, os.path.join(self.tmp, "data"),
                                     os.path.join(self.tmp, "serve.log"),
                                     extra_args=["--max-queue", "1", "--max-batch", "1"])
        self.server.start()
        self.client = harness.Client(self.server.base_url)

    def tearDown(self):
        self.server.kill()
        if self.passed and os.environ.get("SCRUTIN_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"\nkept {self.tmp}", file=sys.stderr)

    def burst(self, voters):
        barrier = threading.Barrier(len(voters))
        out = [None] * len(voters)

        def one(i, v):
            conn = self.client.keep_alive(timeout=30)
            try:
                barrier.wait(30)
                out[i] = conn.request("POST", "/api/v1/vote", {
                    "nas": v.nas, "code": v.code, "law_id": self.law,
                    "vote": "oui" if i % 2 else "non"})
            except Exception as e:  # noqa: BLE001
                out[i] = e
            finally:
                conn.close()

        threads = [threading.Thread(target=one, args=(i, v)) for i, v in enumerate(voters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return out

    def test_503_records_nothing(self):
        voters = self.electorate.registry.voters
        statuses = collections.Counter()
        counted = collections.Counter()
        refused = []
        for b in range(BURSTS):
            group = voters[b * CLIENTS:(b + 1) * CLIENTS]
            for i, (v, r) in enumerate(zip(group, self.burst(group))):
                self.assertIsInstance(r, harness.Response, f"request failed: {r!r}")
                statuses[r.status] += 1
                choice = "oui" if i % 2 else "non"
                if r.status == 202:
                    final = self.client.get(f"/api/v1/vote/{r.json()['request_id']}").json()
                    self.assertEqual(final["status"], "accepted", final)
                    counted[choice] += 1
                elif r.status == 503:
                    self.assertIsNotNone(r.header("Retry-After"), "503 without Retry-After")
                    self.assertRegex(r.header("Retry-After"), r"^[0-9]+$")
                    body = r.json()
                    self.assertRegex(body.get("error", ""), harness.SNAKE_RE)
                    self.assertTrue(body.get("message"))
                    refused.append((v, choice))
                else:
                    self.fail(f"unexpected answer under overload: {r}")
        print(f"\n{dict(statuses)}", file=sys.stderr)
        if not refused:
            self.skipTest(f"no 503 in {BURSTS} bursts of {CLIENTS} (machine too fast to "
                          "overflow a queue of 1)")
        # A 503 changed nothing: the voter's next vote is the first one.
        for v, choice in refused:
            r = self.client.post_vote({"nas": v.nas, "code": v.code, "law_id": self.law,
                                       "vote": choice})
            if r.status == 202:
                final = self.client.get(f"/api/v1/vote/{r.json()['request_id']}").json()
                self.assertEqual(final["status"], "accepted",
                                 "a vote refused with 503 had been recorded")
                counted[choice] += 1
        results = self.client.get(f"/api/v1/results/{self.law}").json()
        self.assertEqual((results["oui"], results["non"]), (counted["oui"], counted["non"]))
        self.assertEqual(self.server.stop(), 0)
        self.passed = True


if __name__ == "__main__":
    unittest.main(verbosity=2)

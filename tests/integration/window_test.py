#!/usr/bin/python3
"""Voting windows crossing while the server runs (docs/openapi.yaml: 403 poll_closed outside
[opens_at, closes_at), results embargoed until closes_at, `final` once closed).

A ballot with a law opening a few seconds after start and two laws closing a few seconds later (one
live, one embargoed): before/after each edge, votes and results must switch without a restart.
"""

import datetime
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

OPENS_IN = 4  # seconds
CLOSES_IN = 7


def wait_until(t):
    delay = (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.3)


class WindowEdgesTest(unittest.TestCase):
    def setUp(self):
        self.passed = False
        self.tmp = tempfile.mkdtemp(prefix="scrutin-window-")
        self.electorate = harness.Electorate(os.path.join(self.tmp, "electorate"),
                                             ["W2026-001", "W2026-002", "W2026-003"], count=50)
        # The windows start counting once the slow part (the electorate) is done.
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        sec = datetime.timedelta(seconds=1)
        day = datetime.timedelta(days=1)
        self.opening = harness.LawSpec("W2026-001", "Ouvre bientôt", "Opens soon",
                                       now + OPENS_IN * sec, now + day)
        self.closing = harness.LawSpec("W2026-002", "Ferme bientôt", "Closes soon",
                                       now - day, now + CLOSES_IN * sec)
        self.embargoed = harness.LawSpec("W2026-003", "Embargo", "Embargo", now - day,
                                         now + CLOSES_IN * sec, "after_close")
        laws = [self.opening, self.closing, self.embargoed]
        laws_file = harness.write_laws(os.path.join(self.tmp, "laws.toml"), laws)
        self.server = harness.Server(self.electorate, laws_file, os.path.join(self.tmp, "data"),
                                     os.path.join(self.tmp, "serve.log"))
        self.server.start()
        self.c = harness.Client(self.server.base_url)
        self.voters = iter(self.electorate.registry.voters)

    def tearDown(self):
        self.server.kill()
        if self.passed and os.environ.get("SCRUTIN_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def vote(self, law, choice="oui"):
        v = next(self.voters)
        return self.c.post_vote({"nas": v.nas, "code": v.code, "law_id": law.law_id,
                                 "vote": choice})

    def final_status(self, r):
        self.assertEqual(r.status, 202, r)
        return self.c.get(f"/api/v1/vote/{r.json()['request_id']}").json()["status"]

    def test_edges(self):
        left = self.opening.opens_at - datetime.datetime.now(datetime.timezone.utc)
        if left.total_seconds() < 1.5:
            self.skipTest("the server took too long to start for the window offsets")
        # Before the opening edge.
        r = self.vote(self.opening)
        self.assertEqual((r.status, r.json().get("error")), (403, "poll_closed"))
        self.assertEqual(self.final_status(self.vote(self.closing, "non")), "accepted")
        self.assertEqual(self.final_status(self.vote(self.embargoed, "oui")), "accepted")
        self.assertEqual(self.final_status(self.vote(self.embargoed, "oui")), "accepted")
        r = self.c.get(f"/api/v1/results/{self.embargoed.law_id}")
        self.assertEqual((r.status, r.json().get("error")), (403, "results_embargoed"))
        live = self.c.get(f"/api/v1/results/{self.closing.law_id}").json()
        self.assertEqual((live["non"], live["final"]), (1, False))

        wait_until(self.opening.opens_at)
        self.assertEqual(self.final_status(self.vote(self.opening)), "accepted",
                         "a law must open at opens_at without a restart")

        wait_until(self.closing.closes_at)
        for law in (self.closing, self.embargoed):
            r = self.vote(law)
            self.assertEqual((r.status, r.json().get("error")), (403, "poll_closed"),
                             f"{law.law_id} must close at closes_at")
        r = self.c.get(f"/api/v1/results/{self.embargoed.law_id}")
        self.assertEqual(r.status, 200, f"embargo must lift at closes_at: {r}")
        body = r.json()
        self.assertEqual((body["oui"], body["non"], body["total"], body["final"]),
                         (2, 0, 2, True))
        live = self.c.get(f"/api/v1/results/{self.closing.law_id}").json()
        self.assertEqual((live["oui"], live["non"], live["final"]), (0, 1, True))
        self.assertEqual(self.server.stop(), 0)
        self.passed = True


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Aggregator killed mid-batch (docs/architecture.md guarantee 2):
SCRUTIN_FAILPOINT=aggregator.after_commit SIGKILLs the aggregator after a batch is committed in
PostgreSQL and before it is acked, so the broker delivers that batch again to the restarted
aggregator. Statuses wait for the record: votes not yet committed stay `pending` while the
aggregator is down (the aggregator writes each final status once PostgreSQL holds it), and all are
final after its restart. Tallies must stay exact: vote_results == accepted votes sent per law and choice ==
ballots, one audit row per request, and the voted set rebuilt from vote_audit ==
accepted_credentials == Redis claims.

Round 1 dies at the first batch (few votes); round 2 at the 3rd batch while 12 threads vote
waves of fresh voters, repeats and ineligible credentials (the api keeps answering 202: the
aggregator is not on the 202 path).
"""

import os
import random
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness_cluster as hc  # noqa: E402
from harness_cluster import harness  # noqa: E402

C = None
BOOK = None


def setUpModule():
    global C, BOOK
    C = hc.module_cluster("aggregator", validators=2, aggregators=1, voters=600)
    BOOK = hc.VoteBook(C)


def mixed_votes(rng, n):
    triples = hc.fresh_votes(BOOK, n, rng=rng)
    for i in range(4, n, 7):  # repeats of an earlier voter of the same load
        triples[i] = (triples[i - 3][0], triples[i - 3][1], rng.choice(("oui", "non")))
    for i in range(5, n, 11):  # ineligible, well-formed credentials
        nas, code = harness.unregistered_credential(C.electorate.registry, rng)
        triples[i] = (harness.Voter(nas, code, frozenset()), triples[i][1], "non")
    return triples


class AggregatorKilledTest(unittest.TestCase):
    def kill_round(self, point, n_votes, threads):
        rng = random.Random()
        C.kill("aggregator-1", signal.SIGTERM)
        pid = C.restart("aggregator-1", {"SCRUTIN_FAILPOINT": point})
        # Waves 0.3 s apart (each at least one batch) until the failpoint fires.
        for wave in range(6):
            casts = hc.send_parallel(BOOK, mixed_votes(rng, n_votes), threads=threads)
            self.assertEqual([c for c in casts if c.http_status != 202], [],
                             "the api must keep answering 202 while the aggregator is down")
            if hc.wait_gone(pid, 0.3):
                break
        self.assertTrue(hc.wait_gone(pid, 10),
                        f"the aggregator did not kill itself at {point} in {wave + 1} waves")
        hc.log(f"aggregator died at {point} during wave {wave + 1}")
        committed = int(C.pg("SELECT count(*) FROM vote_audit")[0][0])
        self.assertGreater(committed, 0, "the killed aggregator committed nothing before dying")
        # Without the aggregator nothing uncommitted is final: a voter is told only what the record
        # holds (docs/architecture.md "The failure model").
        if committed < len(BOOK.accepted_202()):
            time.sleep(1.0)
            finals = 0
            for c in BOOK.accepted_202():
                body = BOOK.client().get(f"/api/v1/vote/{c.request_id}").json()
                finals += body["status"] != "pending"
            self.assertLessEqual(finals, committed,
                                 "more final statuses than votes in PostgreSQL")

        t0 = time.monotonic()
        new_pid = C.restart("aggregator-1")
        self.assertNotIn("SCRUTIN_FAILPOINT", hc.proc_environ(new_pid))
        BOOK.wait_all_final(30)
        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 30)
        hc.log(f"settled {time.monotonic() - t0:.1f}s after the restart")
        summary = ledger.check(BOOK, snap)
        ledger.check_api_results(BOOK, snap)
        # The committed-but-unacked batch really came back: the restarted aggregator recorded
        # more votes than were missing from PostgreSQL when its predecessor died.
        missing_at_death = len(BOOK.accepted_202()) - committed
        deadline = time.monotonic() + 10
        while True:
            recorded = sum(v for (name, _), v in C.metrics(C.url("aggregator-1")).items()
                           if name == "aggregator_votes_recorded_total")
            if recorded > missing_at_death or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertGreater(recorded, missing_at_death,
                           "no batch was redelivered to the restarted aggregator "
                           f"(recorded {recorded}, missing at death {missing_at_death})")
        hc.log(f"restarted aggregator recorded {recorded:.0f} votes, "
               f"{missing_at_death} were missing: {recorded - missing_at_death:.0f} redelivered")
        # Counts straight from the tables, as an auditor would.
        audit_rows = int(C.pg("SELECT count(*) FROM vote_audit")[0][0])
        self.assertEqual(audit_rows, len(BOOK.accepted_202()), "one audit row per request")
        ballots = int(C.pg("SELECT count(*) FROM ballots")[0][0])
        tallied = int(C.pg("SELECT coalesce(sum(oui_count + non_count), 0) FROM vote_results")[0][0])
        self.assertEqual(ballots, summary["accepted"])
        self.assertEqual(tallied, summary["accepted"])
        hc.log(f"{point}: stores exact: {summary}")
        return summary

    def test_1_first_batch(self):
        self.kill_round("aggregator.after_commit", 12, threads=4)

    def test_2_third_batch_under_load(self):
        s = self.kill_round("aggregator.after_commit@3", 60, threads=12)
        self.assertGreater(s["duplicate"], 0)
        self.assertGreater(s["invalid"], 0)

    def test_3_idle_restart_changes_nothing(self):
        """A clean restart (SIGTERM) after everything settled redelivers nothing new."""
        before = hc.Ledger(C).read()
        C.kill("aggregator-1", signal.SIGTERM)
        C.restart("aggregator-1")
        time.sleep(1.0)
        after = hc.Ledger(C).read()
        self.assertEqual(sorted(after.audit), sorted(before.audit))
        self.assertEqual(after.results, before.results)
        self.assertEqual(after.ballots, before.ballots)


if __name__ == "__main__":
    unittest.main(verbosity=2)

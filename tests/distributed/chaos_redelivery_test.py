#!/usr/bin/python3
"""Redelivery (docs/architecture.md guarantee 2): a validator SIGKILLed after its Redis claim but
before its ack must not turn the redelivered vote into a `duplicate` of itself.

One validator (so it is the one that takes the votes), restarted with SCRUTIN_FAILPOINT:
  - validator.after_claim    claims written in Redis, nothing published, input not acked;
  - validator.after_publish  decided votes confirmed by the broker, input not acked.
Each round sends a fresh voter, a second vote of an already-counted voter and an ineligible
credential while the failpoint is armed, checks the validator died there (statuses pending, or
already final from the aggregator once published), restarts it without the
failpoint, and then requires: the fresh vote `accepted` with its receipt (not `duplicate`), the
repeat `duplicate` with attempt_count 2, the ineligible one `invalid`, and the stores exact
(one audit row per request, one ballot, tallies = accepted votes, Redis claims = audit).
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
    C = hc.module_cluster("redelivery", validators=1, voters=400)
    BOOK = hc.VoteBook(C)


class ValidatorRedeliveryTest(unittest.TestCase):
    def round_with_failpoint(self, point):
        rng = random.Random()
        # A voter counted before the failure, to send again while the failpoint is armed.
        earlier = BOOK.voter((hc.LAW_A,))
        first = BOOK.send(earlier.nas, earlier.code, hc.LAW_A, "oui")
        self.assertEqual(first.http_status, 202, first.response)
        BOOK.wait_all_final(20)
        self.assertEqual(first.final["status"], "accepted", first.final)

        C.kill("validator-1", signal.SIGTERM)
        pid = C.restart("validator-1", {"SCRUTIN_FAILPOINT": point})

        fresh = BOOK.voter((hc.LAW_B,))
        nas, code = harness.unregistered_credential(C.electorate.registry, rng)
        sent = [BOOK.send(fresh.nas, fresh.code, hc.LAW_B, "non"),
                BOOK.send(earlier.nas, earlier.code, hc.LAW_A, "non"),
                BOOK.send(nas, code, hc.LAW_A, "oui")]
        for s in sent:
            self.assertEqual(s.http_status, 202, s.response)
        self.assertTrue(hc.wait_gone(pid, 20),
                        f"the validator did not kill itself at {point} within 20 s "
                        "(failpoint not reached?)")
        hc.log(f"validator died at {point}")
        # With no validator the votes are known (never 404). After the claim, nothing was
        # published: still pending. After the publish, the aggregator may already have recorded
        # them and written their statuses (it writes every final status), which must be right.
        expected = ["accepted", "duplicate", "invalid"]
        for s, want in zip(sent, expected):
            r = BOOK.client().get(f"/api/v1/vote/{s.request_id}")
            self.assertEqual(r.status, 200, r)
            allowed = ["pending"] if point == "validator.after_claim" else ["pending", want]
            self.assertIn(r.json()["status"], allowed, r.json())
        # Nothing may be final in PostgreSQL for the fresh vote yet when nothing was published.
        if point == "validator.after_claim":
            rows = C.pg("SELECT count(*) FROM vote_audit WHERE request_key = "
                        f"'{hc.status_key(sent[0].request_id)}'")
            self.assertEqual(rows, [["0"]], "a vote claimed but never published was recorded")

        t0 = time.monotonic()
        new_pid = C.restart("validator-1")
        self.assertNotIn("SCRUTIN_FAILPOINT", hc.proc_environ(new_pid),
                         "the restarted validator still carries the failpoint")
        BOOK.wait_all_final(30)
        hc.log(f"all final {time.monotonic() - t0:.1f}s after the restart")

        self.assertEqual(sent[0].final["status"], "accepted",
                         f"{point}: the redelivered vote must find its own claim: {sent[0].final}")
        self.assertEqual(sent[0].final.get("receipt"), hc.receipt(sent[0].request_id))
        self.assertEqual(sent[1].final["status"], "duplicate", sent[1].final)
        self.assertEqual(sent[2].final["status"], "invalid", sent[2].final)

        # A vote after the recovery is processed normally.
        after = BOOK.voter((hc.LAW_A,))
        a = BOOK.send(after.nas, after.code, hc.LAW_A, "oui")
        self.assertEqual(a.http_status, 202, a.response)
        BOOK.wait_all_final(20)
        self.assertEqual(a.final["status"], "accepted", a.final)

        # The redelivered duplicate is the same attempt, not a new one (docs/openapi.yaml: the first
        # duplicate reports 2), and the audit row agrees with the status the voter reads.
        self.assertEqual(sent[1].final["attempt_count"], 2,
                         f"{point}: a redelivered duplicate was counted as a new attempt: "
                         f"{sent[1].final}")
        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 30)
        summary = ledger.check(BOOK, snap)
        ledger.check_api_results(BOOK, snap)
        hc.log(f"{point}: stores exact: {summary}")

    def test_1_after_claim(self):
        self.round_with_failpoint("validator.after_claim")

    def test_2_after_publish(self):
        self.round_with_failpoint("validator.after_publish")

    def test_3_killed_under_load(self):
        """SIGKILL at the 3rd claim batch while 12 threads vote waves of fresh voters, repeats
        and ineligible credentials (waves 0.3 s apart, so each is at least one batch), then
        restart: every 202 final and counted once."""
        rng = random.Random()
        C.kill("validator-1", signal.SIGTERM)
        pid = C.restart("validator-1", {"SCRUTIN_FAILPOINT": "validator.after_claim@3"})
        for wave in range(6):
            triples = hc.fresh_votes(BOOK, 30, rng=rng)
            # Every 6th vote repeats an earlier voter of the wave, every 10th is ineligible.
            for i in range(6, len(triples), 6):
                triples[i] = (triples[i - 5][0], triples[i - 5][1], rng.choice(("oui", "non")))
            for i in range(5, len(triples), 10):
                nas, code = harness.unregistered_credential(C.electorate.registry, rng)
                triples[i] = (harness.Voter(nas, code, frozenset()), triples[i][1], "oui")
            casts = hc.send_parallel(BOOK, triples, threads=12)
            self.assertEqual([c for c in casts if c.http_status != 202], [],
                             "the api must answer 202 while a validator is down")
            if hc.wait_gone(pid, 0.3):
                break
        self.assertTrue(hc.wait_gone(pid, 10),
                        f"the validator did not reach after_claim@3 in {wave + 1} waves")
        hc.log(f"validator died at after_claim@3 during wave {wave + 1}")
        C.restart("validator-1")
        BOOK.wait_all_final(40)
        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 30)
        summary = ledger.check(BOOK, snap)
        self.assertGreater(summary["duplicate"], 0)
        self.assertGreater(summary["invalid"], 0)
        hc.log(f"killed under load: stores exact: {summary}")


if __name__ == "__main__":
    unittest.main(verbosity=2)

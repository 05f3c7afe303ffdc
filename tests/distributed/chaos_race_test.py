#!/usr/bin/python3
"""Same credential, many clients, several instances (docs/architecture.md guarantee 2): two api
instances and three validators; 50 clients, released together, vote one credential across both apis
(half on each). Exactly one `accepted`, the 49 others `duplicate` with the distinct attempt counts
2..50, the winner's choice counted once. Several rounds (one spelled differently by each client),
then the stores are checked against every vote sent.
"""

import collections
import os
import random
import sys
import threading
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness_cluster as hc  # noqa: E402
from harness_cluster import harness  # noqa: E402

RACERS = 50
C = None
BOOK = None


def setUpModule():
    global C, BOOK
    C = hc.module_cluster("race", apis=2, validators=3, voters=200)
    BOOK = hc.VoteBook(C)
    if len(C.api_urls) != 2:
        raise AssertionError(f"expected 2 api URLs in cluster.env, got {C.api_urls}")


def race(voter, law, spellings):
    """RACERS POSTs of one credential, connections opened first, released by a barrier;
    client i uses api i % 2 and spelling i % len(spellings). Returns [(choice, Cast)]."""
    rng = random.Random()
    barrier = threading.Barrier(RACERS)
    out = [None] * RACERS

    def one(i):
        nas_fmt, code_fmt = spellings[i % len(spellings)]
        choice = rng.choice(("oui", "non"))
        try:
            conn = BOOK.client(i % 2).keep_alive(timeout=30)
        except Exception:  # noqa: BLE001
            barrier.abort()
            raise
        try:
            barrier.wait(30)
            c = BOOK.send(nas_fmt(voter.nas), code_fmt(voter.code), law, choice, conn=conn)
            out[i] = (choice, c)
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


class CrossInstanceRaceTest(unittest.TestCase):
    def check_round(self, law, spellings):
        voter = BOOK.voter((law,))
        results = race(voter, law, spellings)
        self.assertNotIn(None, results, "a racing client failed before sending")
        for _, c in results:
            self.assertEqual(c.http_status, 202, c.response)
        BOOK.wait_all_final(30)
        finals = [(choice, c.final) for choice, c in results]
        statuses = collections.Counter(f["status"] for _, f in finals)
        self.assertEqual(statuses, {"accepted": 1, "duplicate": RACERS - 1})
        counts = sorted(f["attempt_count"] for _, f in finals if f["status"] == "duplicate")
        self.assertEqual(counts, list(range(2, RACERS + 1)),
                         "duplicate attempt counts must be 2..N, each once")
        winner = next((ch, c) for ch, c in results if c.final["status"] == "accepted")
        self.assertEqual(winner[1].final.get("receipt"), hc.receipt(winner[1].request_id))
        # Both apis answer the same status for every request (one shared store).
        for _, c in results[:6]:
            for i in range(2):
                r = BOOK.client(i).get(f"/api/v1/vote/{c.request_id}")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["status"], c.final["status"])

    def test_1_plain(self):
        self.check_round(hc.LAW_A, [(lambda n: n, lambda c: c)])

    def test_2_spellings(self):
        self.check_round(hc.LAW_B, [
            (lambda n: n, str.upper), (harness.spaced, str.lower), (harness.dashed, str.upper),
            (lambda n: f"{n[:3]} {n[3:6]}-{n[6:]}", lambda c: c[:2].lower() + c[2:])])

    def test_3_more_rounds_then_stores(self):
        for law in (hc.LAW_A, hc.LAW_B, hc.LAW_A):
            self.check_round(law, [(lambda n: n, lambda c: c)])
        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 30)
        summary = ledger.check(BOOK, snap)
        ledger.check_api_results(BOOK, snap)
        rounds = summary["accepted"]  # one per race run in this module so far
        self.assertGreaterEqual(rounds, 3)
        self.assertEqual(summary["duplicate"], rounds * (RACERS - 1))
        # duplicate_attempts keeps the highest attempt count per credential.
        rows = C.pg("SELECT attempt_count FROM duplicate_attempts")
        self.assertEqual(sorted(int(r[0]) for r in rows), [RACERS] * rounds)
        hc.log(f"race: stores exact: {summary}")


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Concurrent votes (docs/architecture.md guarantee 2): many clients racing with one credential
yield exactly one `accepted`, and the others `duplicate` with the distinct attempt counts 2..N; many
clients with distinct credentials are all accepted and counted.

Shape-independent like api_contract_test.py: SCRUTIN_BASE_URL + SCRUTIN_VOTERS_CSV test a running
deployment (result checks are deltas), otherwise the test starts its own `scrutin serve`.
"""

import collections
import os
import random
import sys
import threading
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

RACERS = 50
T = None


def setUpModule():
    global T
    T = harness.Target.acquire("concurrency")


def tearDownModule():
    code = T.release()
    if code not in (None, 0):
        raise AssertionError(f"scrutin serve exited {code} after SIGTERM (contract: 0)")


def race(requests):
    """Sends every (payload) at once from its own thread and connection, released together by a
    barrier once all are connected; returns the responses in order (an exception where the
    request failed)."""
    barrier = threading.Barrier(len(requests))
    out = [None] * len(requests)

    def one(i, payload):
        try:
            conn = T.client.keep_alive(timeout=30)
        except Exception as e:  # noqa: BLE001
            barrier.abort()
            out[i] = e
            return
        try:
            barrier.wait(30)
            out[i] = conn.request("POST", "/api/v1/vote", payload)
        except Exception as e:  # noqa: BLE001
            out[i] = e
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


class SameCredentialRaceTest(unittest.TestCase):
    def setUp(self):
        T.need_registry(self)

    def check_race(self, law, formats):
        # On a shared deployment a voter may have been used by an earlier run: try others.
        for _ in range(10 if T.shared else 1):
            if self.race_once(law, formats):
                return
        self.fail("10 voters in a row were already used on the shared deployment")

    def race_once(self, law, formats):
        """One race; False when the voter turned out to be used already (shared only)."""
        voter = T.pool.take((law,))
        before = T.results(law)
        rng = random.Random()
        payloads = []
        for i in range(RACERS):
            nas_fmt, code_fmt = formats[i % len(formats)]
            payloads.append({"nas": nas_fmt(voter.nas), "code": code_fmt(voter.code),
                             "law_id": law, "vote": rng.choice(("oui", "non"))})
        responses = race(payloads)
        finals = []
        for payload, r in zip(payloads, responses):
            self.assertIsInstance(r, harness.Response, f"request failed: {r!r}")
            self.assertEqual(r.status, 202, r)
            finals.append((payload["vote"], T.wait_final(r.json()["request_id"])))
        statuses = collections.Counter(f["status"] for _, f in finals)
        if T.shared and statuses["accepted"] == 0:
            return False
        self.assertEqual(statuses, {"accepted": 1, "duplicate": RACERS - 1})
        counts = sorted(f["attempt_count"] for _, f in finals if f["status"] == "duplicate")
        self.assertEqual(counts, list(range(2, RACERS + 1)),
                         "duplicate attempt counts must be 2..N, each once")
        receipts = [f.get("receipt") for _, f in finals if f["status"] == "accepted"]
        self.assertTrue(receipts[0])
        winner_choice = next(c for c, f in finals if f["status"] == "accepted")
        want = dict(oui=before["oui"], non=before["non"])
        want[winner_choice] += 1
        after = T.wait_results(law, (want["oui"], want["non"]))
        self.assertEqual((after["oui"], after["non"]), (want["oui"], want["non"]),
                         "the race must count exactly the accepted request's choice, once")
        return True

    def test_race_same_credential_law_a(self):
        self.check_race(T.law("open_a", self), [(lambda n: n, lambda c: c)])

    def test_race_same_credential_law_b_mixed_spelling(self):
        # Different spellings of one credential are one credential.
        self.check_race(T.law("open_b", self), [
            (lambda n: n, str.upper), (harness.spaced, str.lower), (harness.dashed, str.upper),
            (lambda n: f"{n[:3]} {n[3:6]}-{n[6:]}", lambda c: c[:2].lower() + c[2:])])

    def test_repeated_races(self):
        law = T.law("open_a", self)
        for _ in range(3):
            self.check_race(law, [(lambda n: n, lambda c: c)])


class DistinctCredentialsTest(unittest.TestCase):
    def test_parallel_distinct_voters_all_counted(self):
        T.need_registry(self)
        law_a, law_b = T.law("open_a", self), T.law("open_b", self)
        before = {law: T.results(law) for law in (law_a, law_b)}
        rng = random.Random()
        payloads = []
        for _ in range(200):
            law = rng.choice((law_a, law_b))
            v = T.pool.take((law,))
            payloads.append({"nas": v.nas, "code": v.code, "law_id": law,
                             "vote": rng.choice(("oui", "non"))})
        delta = collections.Counter()
        lock = threading.Lock()
        problems = []

        def worker(chunk):
            conn = T.client.keep_alive(timeout=30)
            try:
                for p in chunk:
                    r = conn.request("POST", "/api/v1/vote", p)
                    if r.status != 202:
                        problems.append(f"{r.status}: {r.text()[:200]}")
                        continue
                    final = T.wait_final(r.json()["request_id"])
                    with lock:
                        if final["status"] == "accepted":
                            delta[(p["law_id"], p["vote"])] += 1
                        elif not (T.shared and final["status"] == "duplicate"):
                            problems.append(f"first vote of a registered voter: {final}")
            finally:
                conn.close()

        threads = [threading.Thread(target=worker, args=(payloads[i::20],)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(problems, [])
        if not T.shared:
            self.assertEqual(sum(delta.values()), len(payloads))
        for law in (law_a, law_b):
            want = (before[law]["oui"] + delta[(law, "oui")],
                    before[law]["non"] + delta[(law, "non")])
            got = T.wait_results(law, want)
            self.assertEqual((got["oui"], got["non"]), want, f"results of {law}")


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Crash safety of the embedded shape (docs/architecture.md guarantees 1 and 2).

Threads cast votes against `scrutin serve` while the test SIGKILLs it at a random moment, restarts
it on the same --data directory, and does that several rounds (the last one ends with SIGTERM under
load, which must exit 0; some restarts are killed during start-up too). Then, against the restarted
server:

- every vote that got a 202 still has its status (accepted with the same receipt, duplicate with the
  same attempt count) and every accepted one is in the results exactly once;
- a vote that got no answer (killed in flight) is counted at most once: the test re-votes each such
  credential with the same choice (every credential always votes the same choice) and expects
  `duplicate` when an earlier attempt was recorded, `accepted` otherwise; either way the credential
  now counts exactly once, so the published results must equal the test's own count exactly.

Needs its own server (SCRUTIN_BASE_URL is ignored). SCRUTIN_CRASH_ROUNDS changes the number of
rounds (default 5), SCRUTIN_CRASH_SEED replays a run.
"""

import collections
import dataclasses
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

WORKERS = 8
REVOTE_SHARE = 0.15


@dataclasses.dataclass
class Attempt:
    answered: bool  # False: transport error, the server may or may not have recorded it
    http_status: int = 0
    request_id: str = ""
    status: str = ""  # final status from the GET right after the 202, when that GET succeeded
    attempt_count: int = 0
    receipt: str = ""


class Ledger:
    """What the clients saw, per (law_id, nas, code). Thread-safe."""

    def __init__(self, items, rng):
        self.items = items  # [(law_id, nas, code, choice)]
        self.rng = rng
        self.next = 0
        self.used = []
        self.attempts = collections.defaultdict(list)
        self.lock = threading.Lock()

    def pick(self):
        with self.lock:
            if self.used and (self.rng.random() < REVOTE_SHARE or self.next == len(self.items)):
                return self.rng.choice(self.used)
            item = self.items[self.next]
            self.next += 1
            self.used.append(item)
            return item

    def add(self, item, attempt):
        with self.lock:
            self.attempts[item].append(attempt)


def drive(base_url, ledger, stop, errors):
    """One client thread: vote, and GET the status after each 202, until `stop`."""
    client = harness.Client(base_url, timeout=10)
    conn = None
    while not stop.is_set():
        item = ledger.pick()
        law, nas, code, choice = item
        try:
            if conn is None:
                conn = client.keep_alive()
            r = conn.request("POST", "/api/v1/vote",
                             {"nas": nas, "code": code, "law_id": law, "vote": choice})
        except Exception:  # noqa: BLE001 - refused, reset, timeout: all mean "no answer"
            ledger.add(item, Attempt(answered=False))
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)
            continue
        a = Attempt(answered=True, http_status=r.status)
        if r.status == 202:
            a.request_id = r.json()["request_id"]
            try:
                s = conn.request("GET", f"/api/v1/vote/{a.request_id}")
                if s.status == 200 and s.json()["status"] in harness.FINAL_STATUSES:
                    body = s.json()
                    a.status = body["status"]
                    a.attempt_count = body.get("attempt_count") or 0
                    a.receipt = body.get("receipt") or ""
            except Exception:  # noqa: BLE001
                conn.close()
                conn = None
        elif r.status != 503:
            errors.append(f"unexpected {r.status} for a well-formed vote: {r.text()[:200]}")
        ledger.add(item, a)
    if conn is not None:
        conn.close()


class CrashSafetyTest(unittest.TestCase):
    def setUp(self):
        self.passed = False
        self.tmp = tempfile.mkdtemp(prefix="scrutin-crash-")
        self.ballot = harness.standard_ballot()
        self.law_a = self.ballot["open_a"].law_id
        self.law_b = self.ballot["open_b"].law_id
        self.electorate = harness.Electorate(os.path.join(self.tmp, "electorate"),
                                             [self.law_a, self.law_b], count=8000)
        laws = harness.write_laws(os.path.join(self.tmp, "laws.toml"), self.ballot.values())
        # A load test from one address: the per-client allowances (README "Limits at the front
        # door") are not what it tests, so they are off.
        self.server = harness.Server(self.electorate, laws, os.path.join(self.tmp, "data"),
                                     os.path.join(self.tmp, "serve.log"),
                                     extra_args=harness.NO_CLIENT_LIMITS)

    def tearDown(self):
        self.server.kill()
        if os.environ.get("SCRUTIN_KEEP_TMP") != "1" and self.passed:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"\nkept {self.tmp} (server log: {self.server.log_path})", file=sys.stderr)

    def test_votes_survive_sigkill(self):
        seed = int(os.environ.get("SCRUTIN_CRASH_SEED", random.randrange(2**32)))
        rounds = int(os.environ.get("SCRUTIN_CRASH_ROUNDS", "5"))
        print(f"\ncrash test seed {seed}, {rounds} rounds", file=sys.stderr)
        rng = random.Random(seed)
        items = []
        for v in self.electorate.registry.voters:
            for law in (self.law_a, self.law_b):
                items.append((law, v.nas, v.code, rng.choice(("oui", "non"))))
        rng.shuffle(items)
        ledger = Ledger(items, rng)
        errors = []

        early_kills = 0
        for rnd in range(rounds):
            if rnd > 0 and rng.random() < 0.5:
                # Also crash during start-up (while it recovers the WAL and rebuilds its state).
                self.server.spawn()
                time.sleep(rng.uniform(0.0, 0.05))
                self.server.kill()
                early_kills += 1
            self.server.start()
            stop = threading.Event()
            threads = [threading.Thread(target=drive, args=(self.server.base_url, ledger, stop,
                                                            errors), daemon=True)
                       for _ in range(WORKERS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 1.5))
            if rnd == rounds - 1:
                code = self.server.stop()  # graceful, under load
                self.assertEqual(code, 0, "SIGTERM under load must exit 0")
            else:
                self.server.kill()
            time.sleep(0.05)
            stop.set()
            for t in threads:
                t.join(30)
                self.assertFalse(t.is_alive(), "a client thread hung")
        self.assertEqual(errors[:5], [])

        all_attempts = [a for atts in ledger.attempts.values() for a in atts]
        acked = [a for a in all_attempts if a.http_status == 202]
        unanswered = [a for a in all_attempts if not a.answered]
        print(f"{len(all_attempts)} attempts: {len(acked)} got 202, {len(unanswered)} no answer; "
              f"{early_kills} kills during start-up", file=sys.stderr)
        self.assertGreater(len(acked), 100, "too few votes got through to test anything")

        self.server.start()
        client = harness.Client(self.server.base_url)
        expected = collections.Counter()
        revoted = 0
        for item, attempts in ledger.attempts.items():
            law, nas, code, choice = item
            accepted = [a for a in attempts if a.http_status == 202 and a.status == "accepted"]
            self.assertLessEqual(len(accepted), 1, f"one credential accepted twice on {law}")
            counts = [a.attempt_count for a in attempts if a.status == "duplicate"]
            self.assertEqual(len(counts), len(set(counts)),
                             f"two duplicates reported the same attempt count: {counts}")
            for c in counts:
                self.assertTrue(2 <= c <= len(attempts), f"attempt count {c} of {len(attempts)}")
            if accepted:
                expected[(law, choice)] += 1
                continue
            # Not known to be counted: ask the server by voting again with the same choice.
            r = client.post_vote({"nas": nas, "code": code, "law_id": law, "vote": choice})
            self.assertEqual(r.status, 202, r)
            final = self.wait_final(client, r.json()["request_id"])
            revoted += 1
            if any(a.http_status == 202 for a in attempts):
                # A 202 means that attempt was recorded, so the credential has voted already.
                self.assertEqual(final["status"], "duplicate",
                                 "a credential with an acknowledged vote could vote again")
            self.assertIn(final["status"], ("accepted", "duplicate"))
            if final["status"] == "duplicate":
                self.assertLessEqual(final["attempt_count"], len(attempts) + 1)
            expected[(law, choice)] += 1

        for law in (self.law_a, self.law_b):
            want = (expected[(law, "oui")], expected[(law, "non")])
            got = client.get(f"/api/v1/results/{law}").json()
            self.assertEqual((got["oui"], got["non"]), want,
                             f"results of {law} after {rounds} crashes (re-voted {revoted})")

        # Every acknowledged vote's status survived the crashes unchanged.
        for item, attempts in ledger.attempts.items():
            for a in attempts:
                if a.http_status != 202:
                    continue
                r = client.get(f"/api/v1/vote/{a.request_id}")
                self.assertEqual(r.status, 200, f"status of an acknowledged vote lost: {r}")
                body = r.json()
                self.assertIn(body["status"], harness.FINAL_STATUSES)
                self.assertEqual(body["law_id"], item[0])
                if a.status:
                    self.assertEqual(body["status"], a.status, body)
                    if a.status == "accepted":
                        self.assertEqual(body.get("receipt"), a.receipt)
                    if a.status == "duplicate":
                        self.assertEqual(body.get("attempt_count"), a.attempt_count)
        self.assertEqual(self.server.stop(), 0)
        self.passed = True

    def wait_final(self, client, request_id, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            body = client.get(f"/api/v1/vote/{request_id}").json()
            if body["status"] in harness.FINAL_STATUSES or time.monotonic() > deadline:
                return body
            time.sleep(0.05)


if __name__ == "__main__":
    unittest.main(verbosity=2)

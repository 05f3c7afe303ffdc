#!/usr/bin/python3
"""Redis killed -9 and started again with its files (issue 12 item 4; docs/operations.md,
"Durability and backups"). scripts/cluster runs Redis with AOF (appendfsync everysec) plus RDB
snapshots; `scripts/cluster restart-process DIR redis` starts it again on its port from them.

What a voter and an auditor must see across the kill:
- every claim Redis held before the kill is there after the restart, with the same claim tag and
  attempt count (a kill -9 of the process loses nothing: Redis writes the AOF before it answers;
  only a crash of the host may lose the last second, which PostgreSQL covers);
- statuses answered before the kill are answered the same after it (status and receipt);
- a voter whose vote was accepted before the kill and who votes again afterwards is told
  `duplicate` with the right attempt count, not `accepted` a second time;
- while Redis is down the api answers 503 (never a 202 it cannot keep) or a 202 that is counted;
- the whole run goes over verified TLS to every backend (scripts/cluster start --tls), so the
  restarted Redis is TLS-only and every client reconnects to it over TLS;
- new votes after the restart are accepted, and at the end every 202 is counted exactly once
  (harness_cluster.Ledger.check: audit, accepted_credentials, Redis claims, ballots with the
  requests' receipts, tallies, and the api's /results).
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
RECOVERY_S = 60.0  # bound for every api and worker to be healthy again after the restart


def setUpModule():
    global C, BOOK
    # Over TLS (scripts/cluster start --tls): the restart path of a TLS-only Redis and the
    # clients' TLS reconnection are exercised here; the chaos soak kills a plain Redis.
    C = hc.module_cluster("redis-restart", validators=2, voters=400, cluster_args=["--tls"])
    BOOK = hc.VoteBook(C)


def mixed_votes(rng, n):
    """Fresh voters, with repeats of an earlier voter of the same load and ineligible
    credentials mixed in."""
    triples = hc.fresh_votes(BOOK, n, rng=rng)
    for i in range(4, n, 7):
        triples[i] = (triples[i - 3][0], triples[i - 3][1], rng.choice(("oui", "non")))
    for i in range(5, n, 11):
        nas, code = harness.unregistered_credential(C.electorate.registry, rng)
        triples[i] = (harness.Voter(nas, code, frozenset()), triples[i][1], "non")
    return triples


def healthy_everywhere(timeout):
    """Waits until every api and worker answers 200 on /api/v1/health; returns the seconds it
    took, or raises naming who is still unhealthy."""
    t0 = time.monotonic()
    urls = C.api_urls + C.admin_urls
    while True:
        bad = []
        for u in urls:
            try:
                r = harness.Client(u, timeout=5).get("/api/v1/health")
                if r.status != 200:
                    bad.append((u, r.status, r.text()[:200]))
            except Exception as e:  # noqa: BLE001
                bad.append((u, None, str(e)))
        if not bad:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not healthy {timeout}s after the Redis restart: {bad}")
        time.sleep(0.2)


class RedisRestartTest(unittest.TestCase):
    def test_kill9_then_restart_with_files(self):
        rng = random.Random()
        # 1. Votes before the kill, all decided.
        before = hc.send_parallel(BOOK, mixed_votes(rng, 90), threads=8)
        self.assertEqual([c.http_status for c in before if c.http_status != 202], [])
        BOOK.wait_all_final(30)
        finals_before = {c.request_id: dict(c.final) for c in before}
        accepted_before = [c for c in before if c.final["status"] == "accepted"]
        self.assertGreater(len(accepted_before), 40)
        self.assertTrue(any(c.final["status"] == "duplicate" for c in before))
        claims_before = hc.read_redis_claims(C.env)
        self.assertEqual(len(claims_before.claims), len(accepted_before))

        # 2. kill -9, as a crash would.
        pid = int(C.env["REDIS_PID"])
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(hc.wait_gone(pid, 10), f"redis-server (pid {pid}) survived SIGKILL")
        hc.log(f"redis-server (pid {pid}) killed -9")

        # 3. Votes while Redis is down: 503 (nothing recorded) or a 202 that must be counted.
        during = [BOOK.send(v.nas, v.code, law, ch)
                  for v, law, ch in hc.fresh_votes(BOOK, 6, rng=rng)]
        codes = [c.http_status for c in during]
        hc.log(f"answers while Redis was down: {codes}")
        self.assertTrue(all(s in (202, 503) for s in codes),
                        f"while Redis is down a vote is answered 202 or 503, got {codes}")
        for c in during:
            if c.http_status == 503:
                self.assertTrue(c.response.header("Retry-After"), "503 without Retry-After")

        # 4. Start it again from its files, on its port.
        t0 = time.monotonic()
        C._script([hc.CLUSTER_SCRIPT, "restart-process", C.dir, "redis"], 120)
        C.reload_env()
        new_pid = int(C.env["REDIS_PID"])
        self.assertNotEqual(new_pid, pid)
        self.assertTrue(hc.pid_alive(new_pid))
        hc.log(f"redis restarted with its files in {time.monotonic() - t0:.1f}s (pid {new_pid})")

        # Every claim survived, with its tag and attempt count; the eligibility buckets too.
        claims_after = hc.read_redis_claims(C.env)
        lost = {d: v for d, v in claims_before.claims.items()
                if claims_after.claims.get(d) != v}
        self.assertEqual(lost, {}, f"{len(lost)} of {len(claims_before.claims)} claims lost or "
                                   "changed by the kill -9 and restart")
        self.assertEqual(claims_after.eligible, claims_before.eligible)
        took = healthy_everywhere(RECOVERY_S)
        hc.log(f"every api and worker healthy {took:.1f}s after the restart")

        # 5. Statuses answered before the kill are answered the same.
        for c in before:
            r = BOOK.client(0).get(f"/api/v1/vote/{c.request_id}")
            self.assertEqual(r.status, 200, f"GET status of {c.request_id} after the restart: {r}")
            body = r.json()
            want = finals_before[c.request_id]
            self.assertEqual((body.get("status"), body.get("receipt"), body.get("attempt_count")),
                             (want.get("status"), want.get("receipt"), want.get("attempt_count")),
                             f"status of {c.request_id} changed across the Redis restart")

        # 6. Voters accepted before the kill vote again: duplicate, with the right attempt count.
        seen = set()
        again_triples = []
        for c in accepted_before:
            if c.digest in seen or len(again_triples) >= 25:
                continue
            seen.add(c.digest)
            again_triples.append((harness.Voter(c.nas, c.code, frozenset((c.law_id,))),
                                  c.law_id, "non" if c.choice == "oui" else "oui"))
        again = hc.send_parallel(BOOK, again_triples, threads=5)
        self.assertEqual([c.http_status for c in again if c.http_status != 202], [])

        # 7. New votes after the restart.
        after = hc.send_parallel(BOOK, mixed_votes(rng, 60), threads=8)
        self.assertEqual([c.http_status for c in after if c.http_status != 202], [])

        BOOK.wait_all_final(60)
        tries = {}
        for c in BOOK.accepted_202():
            tries[c.digest] = tries.get(c.digest, 0) + 1
        for c in again:
            self.assertEqual(c.final["status"], "duplicate",
                             f"a voter accepted before the Redis kill voted again: {c.final}")
            self.assertEqual(c.final.get("attempt_count"), tries[c.digest], c.final)
            self.assertNotIn("receipt", c.final, "a duplicate carries no receipt")
        self.assertGreater(sum(1 for c in after if c.final["status"] == "accepted"), 30)

        # 8. Every 202 counted exactly once, as an auditor reads the stores.
        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 60)
        summary = ledger.check(BOOK, snap, unanswered_may_exist=any(
            c.http_status != 202 for c in during))
        ledger.check_api_results(BOOK, snap)
        hc.log(f"stores exact after the Redis kill -9 and restart: {summary}")
        C.assert_no_credentials_in_logs(BOOK)


if __name__ == "__main__":
    unittest.main(verbosity=2)

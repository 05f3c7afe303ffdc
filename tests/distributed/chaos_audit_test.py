#!/usr/bin/python3
"""Audit and accounting (docs/architecture.md guarantees 1, 2, 5) on a 3-master Redis Cluster,
two apis and two validators:

- after a run with accepted, duplicate and invalid votes, the voted set rebuilt from vote_audit
  alone (SELECT DISTINCT vote_hash FROM vote_audit WHERE status = 'accepted') equals the digests
  claimed in Redis (ledger buckets on every master, compared on the 16-byte field suffix, with the
  claiming request's tag) and equals accepted_credentials; the ledger's buckets and claims are
  spread over all three masters;
- every 202 is accounted for: under load while validators are SIGKILLed and restarted and an api
  dies between the broker's confirm and its answer (SCRUTIN_FAILPOINT=api.after_confirm), every
  vote that got a 202 reaches a final status within FINAL_BOUND_S and is recorded exactly once;
  votes left unanswered by the dying api are recorded at most once.
"""

import os
import random
import signal
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness_cluster as hc  # noqa: E402
from harness_cluster import harness  # noqa: E402

FINAL_BOUND_S = 30.0
C = None
BOOK = None


def setUpModule():
    global C, BOOK
    C = hc.module_cluster("audit", apis=2, validators=2, redis_cluster=True, voters=2000)
    BOOK = hc.VoteBook(C)


class AuditTest(unittest.TestCase):
    def test_1_voted_set_from_audit_equals_redis(self):
        rng = random.Random()
        triples = hc.fresh_votes(BOOK, 90, rng=rng)
        for i in range(3, len(triples), 5):  # repeats
            triples[i] = (triples[i - 2][0], triples[i - 2][1], rng.choice(("oui", "non")))
        for i in range(4, len(triples), 9):  # ineligible
            nas, code = harness.unregistered_credential(C.electorate.registry, rng)
            triples[i] = (harness.Voter(nas, code, frozenset()), triples[i][1], "oui")
        # Right NAS, wrong code: well formed, not eligible.
        v = BOOK.voter((hc.LAW_A,))
        wrong = "".join(rng.choice("ABCDEFGHJK") for _ in range(6))
        triples.append((harness.Voter(v.nas, wrong, frozenset()), hc.LAW_A, "non"))
        # Registered for the law, but voting on the other law with the same credential is a
        # separate credential: both accepted.
        both = BOOK.voter((hc.LAW_A, hc.LAW_B))
        triples += [(both, hc.LAW_A, "oui"), (both, hc.LAW_B, "non")]
        casts = hc.send_parallel(BOOK, triples, threads=8, api_of=lambda i: i % 2)
        self.assertEqual([c.http_status for c in casts if c.http_status != 202], [])
        BOOK.wait_all_final(FINAL_BOUND_S)

        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 30)
        summary = ledger.check(BOOK, snap)
        ledger.check_api_results(BOOK, snap)
        for k in ("accepted", "duplicate", "invalid"):
            self.assertGreater(summary[k], 0, summary)

        # The disaster-recovery query, verbatim, against Redis and accepted_credentials.
        rebuilt = {r[0] for r in C.pg(
            "SELECT DISTINCT vote_hash FROM vote_audit WHERE status = 'accepted'")}
        claimed = set(hc.read_redis_claims(C.env).claims)
        self.assertEqual({h[32:] for h in rebuilt}, claimed)
        self.assertEqual(rebuilt, {r[0] for r in C.pg(
            "SELECT vote_hash FROM accepted_credentials")})
        self.assertEqual(rebuilt, {c.digest for c in BOOK.accepted_202()
                                   if c.final["status"] == "accepted"})

        # Spread over the cluster: every master holds buckets, and some of the claims.
        nodes = snap.redis.bucket_keys_by_node
        self.assertEqual(len(nodes), 3, nodes)
        self.assertTrue(all(n > 0 for n in nodes.values()), nodes)
        per_node = self.claims_per_node()
        self.assertTrue(all(n > 0 for n in per_node.values()), per_node)
        hc.log(f"audit: stores exact: {summary}; buckets per master {nodes}, "
               f"claims per master {per_node}")

    def claims_per_node(self):
        out = {}
        for host, port in hc.redis_nodes(C.env):
            r = hc.Resp(host, port)
            try:
                n = 0
                cursor = b"0"
                while True:
                    cursor, keys = r.command("SCAN", cursor, "MATCH", "sc:{e:*", "COUNT", 1000)
                    for key in keys:
                        flat = r.command("HGETALL", key)
                        n += sum(1 for f, v in zip(flat[0::2], flat[1::2])
                                 if v and len(f) == 16)  # 32-byte fields: duplicate markers
                    if cursor == b"0":
                        break
                out[f"{host}:{port}"] = n
            finally:
                r.close()
        return out

    def test_2_every_202_accounted_for_under_kills(self):
        stop = threading.Event()
        sent_during = []
        lock = threading.Lock()

        def load(k):
            local = random.Random(k)
            while not stop.is_set():
                law = local.choice(C.law_ids)
                try:
                    voter = BOOK.voter((law,))
                except RuntimeError:
                    hc.log("load: the electorate is used up")
                    return
                choice = local.choice(("oui", "non"))
                c = BOOK.send(voter.nas, voter.code, law, choice, api=k)
                with lock:
                    sent_during.append(c)
                if local.random() < 0.15 and c.http_status == 202:  # a repeat now and then
                    BOOK.send(voter.nas, voter.code, law, choice, api=k + 1)
                time.sleep(0.05)

        threads = [threading.Thread(target=load, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            C.kill("validator-1", signal.SIGKILL)
            hc.log("validator-1 SIGKILLed under load")
            time.sleep(1.0)
            C.restart("validator-1")
            C.kill("validator-2", signal.SIGKILL)
            hc.log("validator-2 SIGKILLed under load")
            C.restart("validator-2")
            C.kill("api-2", signal.SIGTERM)
            # api-2 keeps its port, so the load reaches it at once: it may reach its failpoint
            # before restart() has looked at it.
            pid = C.restart("api-2", {"SCRUTIN_FAILPOINT": "api.after_confirm@10"},
                            may_die=True)
            BOOK.refresh_clients()
            self.assertTrue(hc.wait_gone(pid, 30), "api-2 did not reach api.after_confirm@10")
            hc.log("api-2 died between confirm and answer")
            C.restart("api-2")
            BOOK.refresh_clients()
            time.sleep(1.0)
        finally:
            stop.set()
            for t in threads:
                t.join(60)

        answered = [c for c in sent_during if c.http_status == 202]
        self.assertGreater(len(answered), 50, "too little load got through")
        t0 = time.monotonic()
        BOOK.wait_all_final(FINAL_BOUND_S)
        hc.log(f"{len(BOOK.accepted_202())} votes answered 202 all final "
               f"{time.monotonic() - t0:.1f}s after the load stopped")
        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 30)
        summary = ledger.check(BOOK, snap, unanswered_may_exist=True)
        ledger.check_api_results(BOOK, snap)
        unanswered = [c for c in BOOK.casts if c.request_id is None]
        hc.log(f"under kills: stores exact: {summary}; {len(unanswered)} POSTs unanswered "
               f"(statuses {sorted(set(str(c.http_status) for c in unanswered))})")
        self.assertTrue(all(c.http_status in (None, 503) for c in unanswered),
                        "only the dying api's votes may go unanswered (or 503)")


    def test_3_no_credential_in_any_log(self):
        n = C.assert_no_credentials_in_logs(BOOK)
        hc.log(f"{n} NAS/code strings searched in the process logs: none found")


if __name__ == "__main__":
    unittest.main(verbosity=2)

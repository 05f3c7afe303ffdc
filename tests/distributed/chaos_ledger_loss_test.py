#!/usr/bin/python3
"""Redis losing the ledger, on one Redis node, one api, two validators, one aggregator
(docs/architecture.md "The failure model"):

- after FLUSHALL, a registered voter's vote is answered 202 and stays `pending` (never
  `invalid`), the api's /api/v1/health is 503, the validators' admin /health names the missing
  ledger and scrutin_ledger_ok is 0; after `scrutin ledger rebuild` the vote is decided
  `accepted` without restarting anything, health is 200 again, a voter who had voted before the
  loss is told `duplicate`, and every vote is counted once;
- after a partial loss (one voter's claim reset to unclaimed, as claims written since the last
  fsync would be), that voter voting again with the other answer ends `duplicate` with attempt
  count 2, gets no receipt, casts no ballot, and the tally does not move.
"""

import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness_cluster as hc  # noqa: E402
from harness_cluster import harness  # noqa: E402

C = None
BOOK = None
PENDING_HOLD_S = 4.0  # how long a vote must stay pending while the ledger is missing
FINAL_BOUND_S = 30.0


def setUpModule():
    global C, BOOK
    C = hc.module_cluster("ledger-loss", apis=1, validators=2, voters=400)
    BOOK = hc.VoteBook(C)


def redis():
    host, port = hc.redis_nodes(C.env)[0]
    return hc.Resp(host, port)


def status_of(cast):
    r = BOOK.client().get(f"/api/v1/vote/{cast.request_id}")
    assert r.status == 200, f"GET status -> {r}"
    return r.json()


def wait_final(cast, timeout=FINAL_BOUND_S):
    deadline = time.monotonic() + timeout
    while True:
        body = status_of(cast)
        if body["status"] != "pending":
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"still pending after {timeout}s: {body}")
        time.sleep(0.1)


def health():
    return BOOK.client().get("/api/v1/health")


def tally(law):
    r = BOOK.client().get(f"/api/v1/results/{law}")
    assert r.status == 200, r
    return r.json()["oui"], r.json()["non"]


def rebuild():
    out = subprocess.run(
        [C.binary, "ledger", "rebuild", "--redis", C.env["REDIS_TARGET"], "--hashes",
         C.env["HASHES_DIR"], "--pg", C.env["PG_URL"]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=hc.clean_env(), timeout=300)
    text = out.stdout.decode(errors="replace")
    if out.returncode != 0:
        raise AssertionError(f"ledger rebuild exited {out.returncode}:\n{text[-2000:]}")
    return text



def wait_mixed(timeout=30.0):
    """Until the aggregator's mixer (--mix-size 1) has counted every sealed ballot."""
    deadline = time.monotonic() + timeout
    while int(C.pg("SELECT count(*) FROM sealed_ballots")[0][0]) != 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"sealed ballots still waiting after {timeout}s")
        time.sleep(0.05)

class LedgerLossTest(unittest.TestCase):
    def test_1_flushall_holds_votes_pending_until_rebuild(self):
        law = hc.LAW_A
        before = BOOK.voter((law,))
        first = BOOK.send(before.nas, before.code, law, "oui")
        self.assertEqual(first.http_status, 202)
        self.assertEqual(wait_final(first)["status"], "accepted")
        self.assertEqual(health().status, 200)
        oui0, non0 = tally(law)

        r = redis()
        try:
            self.assertIn(r.command("FLUSHALL"), ("OK", b"OK"))
        finally:
            r.close()

        # A registered voter votes while the ledger is missing: durable (202), decided nothing.
        voter = BOOK.voter((law,))
        cast = BOOK.send(voter.nas, voter.code, law, "non")
        self.assertEqual(cast.http_status, 202)
        deadline = time.monotonic() + PENDING_HOLD_S
        while time.monotonic() < deadline:
            self.assertEqual(status_of(cast)["status"], "pending",
                             "a vote was decided without the ledger")
            time.sleep(0.2)
        h = health()
        self.assertEqual(h.status, 503, f"health while the ledger is missing: {h}")
        # The validators say why, on their admin port, and in their metrics.
        for i in (1, 2):
            url = C.url(f"validator-{i}")
            admin = harness.Client(url, timeout=10).get("/health")
            self.assertEqual(admin.status, 503, admin)
            self.assertIn("ledger rebuild", admin.body.decode(errors="replace"))
            metrics = C.metrics(url)
            ok = [v for (name, _), v in metrics.items() if name == "scrutin_ledger_ok"]
            self.assertEqual(ok, [0.0], f"scrutin_ledger_ok on validator-{i}: {ok}")

        summary = rebuild()
        hc.log(f"rebuild: {summary.strip().splitlines()[-1]}")
        body = wait_final(cast)
        self.assertEqual(body["status"], "accepted", body)
        self.assertIn("receipt", body)
        deadline = time.monotonic() + 15
        while health().status != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(health().status, 200)

        # The claim made before the loss came back with the rebuild: voting again is a duplicate.
        again = BOOK.send(before.nas, before.code, law, "non")
        self.assertEqual(again.http_status, 202)
        body = wait_final(again)
        self.assertEqual(body["status"], "duplicate", body)
        self.assertEqual(body["attempt_count"], 2)
        self.assertNotIn("receipt", body)
        # Each counted once: the first (oui) before, the held one (non) now.
        deadline = time.monotonic() + 10
        while tally(law) != (oui0, non0 + 1) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(tally(law), (oui0, non0 + 1))

    def test_2_partial_loss_second_attempt_is_a_duplicate(self):
        law = hc.LAW_B
        voter = BOOK.voter((law,))
        first = BOOK.send(voter.nas, voter.code, law, "oui")
        self.assertEqual(first.http_status, 202)
        body = wait_final(first)
        self.assertEqual(body["status"], "accepted")
        receipt = body["receipt"]
        wait_mixed()
        oui0, non0 = tally(law)
        ballots0 = int(C.pg("SELECT count(*) FROM ballots")[0][0])

        # Reset this voter's claim to "eligible, unclaimed", as a Redis restarted from files
        # that miss the last second of writes would hold it.
        r = redis()
        try:
            bits = int(r.command("HGET", "sc:ledger", "bucket_bits"))
            digest = bytes.fromhex(first.digest)
            bucket = int.from_bytes(digest[:8], "big") >> (64 - bits)
            key = "sc:{e:" + format(bucket, "0%dx" % ((bits + 3) // 4)) + "}"
            field = digest[16:]
            self.assertIsNotNone(r.command("HGET", key, field), "the voter's field is missing")
            r.command("HSET", key, field, b"")
        finally:
            r.close()

        second = BOOK.send(voter.nas, voter.code, law, "non")
        self.assertEqual(second.http_status, 202)
        body = wait_final(second)
        self.assertEqual(body["status"], "duplicate", body)
        self.assertEqual(body["attempt_count"], 2)
        self.assertNotIn("receipt", body)
        self.assertEqual(status_of(first)["status"], "accepted")
        # The first answer's ballot is the one counted: its receipt is among the counted ones
        # (GET /api/v1/receipts is not served yet), and no second ballot was cast.
        self.assertEqual(C.pg(f"SELECT law_id FROM receipts WHERE receipt = '{receipt}'"),
                         [[law]])
        time.sleep(1.0)
        wait_mixed()
        self.assertEqual(tally(law), (oui0, non0))
        self.assertEqual(int(C.pg("SELECT count(*) FROM ballots")[0][0]), ballots0)
        audit = [row[0] for row in C.pg(
            "SELECT status || ':' || attempt_count FROM vote_audit WHERE vote_hash = '"
            + first.digest + "' ORDER BY attempt_count")]
        self.assertEqual(audit, ["accepted:1", "duplicate:2"])

    def test_3_no_credentials_in_logs(self):
        C.assert_no_credentials_in_logs(BOOK)


if __name__ == "__main__":
    unittest.main(verbosity=2)

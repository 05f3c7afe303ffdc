#!/usr/bin/env python3
"""The record of a closed law (docs/ballot-secrecy.md "The record at the close"), checked in both
shapes as a voter and an auditor would, from the outside only:

  - before the close, /api/v1/record/{law} and its receipts list answer 403 poll_open with
    `available_at` = the close;
  - a law that closes during the test gets its record within seconds; its tally is the votes cast,
    every reconciliation count equals them, and the receipts list is exactly the receipts the
    voters were given, sorted, hashed as the record says;
  - `scrutin verify-record --url` accepts it, signed by the record key published beforehand
    (--public-key); an independent check of the Ed25519 signature over Python's canonical JSON
    (json.dumps(sort_keys, compact)) agrees, when python3-cryptography is installed;
  - tampered copies are rejected by `verify-record --record --receipts`, each naming the problem: a
    changed tally, a dropped receipt, a flipped signature byte, a record signed by another key;
  - every voter's receipt answers counted; the record never changes after it is sealed (embedded:
    across a restart; distributed: two aggregators race to seal it, one record wins).

Run by ctest (label `record`): python3 tests/record/record_test.py [Embedded|Distributed]
"""

import collections
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "distributed"))

import harness  # noqa: E402
import harness_cluster as hc  # noqa: E402

K = 3  # the mixer's group size
VOTES = 14
SETTLE_MS = 1000
RECORD_WAIT_S = 20  # "within seconds" of the close, with room for a loaded CI machine


def log(msg):
    print(f"[record] {msg}", file=sys.stderr, flush=True)


def public_key_of(binary, key_file):
    """The record key's public half, as the election publishes it: `openssl pkey` of the PEM."""
    der = subprocess.run(["openssl", "pkey", "-in", key_file, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return der[-32:].hex()  # an Ed25519 SubjectPublicKeyInfo ends with the raw 32-byte key


def cast(client, pool, law, rng):
    """VOTES votes on `law`; returns [(choice, receipt)]."""
    cast_votes = []
    for i in range(VOTES):
        voter = pool.take((law,))
        choice = "oui" if rng.random() < 0.6 else "non"
        r = client.post_vote({"nas": voter.nas, "code": voter.code, "law_id": law, "vote": choice})
        if r.status != 202:
            raise AssertionError(f"vote refused: {r}")
        cast_votes.append([choice, r.json()["request_id"]])
    deadline = time.monotonic() + 60
    for v in cast_votes:
        while True:
            body = client.get(f"/api/v1/vote/{v[1]}").json()
            if body.get("status") == "accepted":
                v[1] = body["receipt"]
                break
            if body.get("status") not in (None, "pending") or time.monotonic() > deadline:
                raise AssertionError(f"vote {v[1]} ended {body}")
            time.sleep(0.05)
    return [tuple(v) for v in cast_votes]


def wait_record(client, law, closes_at):
    """Polls the record from the close on; returns (response, seconds after the close)."""
    deadline = closes_at + datetime.timedelta(seconds=RECORD_WAIT_S)
    while True:
        r = client.get(f"/api/v1/record/{law}")
        now = datetime.datetime.now(datetime.timezone.utc)
        if r.status == 200 or now > deadline:
            return r, (now - closes_at).total_seconds()
        time.sleep(0.2)


class RecordChecks:
    """The checks both shapes share. Subclasses set: binary, client, law, closes_at, votes,
    public_key, tmp, before (the 403 answers seen before the close), record, receipts_text."""

    def verify(self, *args):
        p = subprocess.run([self.binary, "verify-record", *args], capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stdout + p.stderr

    def saved(self, name, record=None, receipts=None):
        rec = os.path.join(self.tmp, f"{name}.json")
        rct = os.path.join(self.tmp, f"{name}.txt")
        with open(rec, "w", encoding="utf-8") as f:
            json.dump(self.record if record is None else record, f)
        with open(rct, "w", encoding="utf-8") as f:
            f.write(self.receipts_text if receipts is None else receipts)
        return ["--record", rec, "--receipts", rct]

    def test_1_nothing_is_published_before_the_close(self):
        for r in self.before:
            self.assertEqual(r.status, 403, r)
            body = r.json()
            self.assertEqual(body["error"], "poll_open")
            self.assertEqual(harness.parse_rfc3339(body["available_at"]), self.closes_at)

    def test_2_the_record_is_sealed_within_seconds_and_says_what_was_cast(self):
        self.assertLess(self.sealed_after, RECORD_WAIT_S)
        want = collections.Counter(c for c, _ in self.votes)
        r = self.record
        self.assertEqual(r["law_id"], self.law)
        self.assertEqual(harness.parse_rfc3339(r["closes_at"]), self.closes_at)
        self.assertEqual(r["tally"], {"oui": want["oui"], "non": want["non"], "total": VOTES})
        self.assertEqual(r["reconciliation"], {k: VOTES for k in
                                               ("accepted", "claims", "ballots", "receipts",
                                                "tallied")})
        self.assertEqual(r["receipts"]["count"], VOTES)
        self.assertEqual(r["receipts"]["url"], f"/api/v1/record/{self.law}/receipts")
        self.assertEqual(r["signature"]["algorithm"], "ed25519")
        self.assertEqual(r["signature"]["public_key"], self.public_key)
        # The list is exactly the voters' receipts, sorted, one per line; nothing else in it.
        self.assertEqual(self.receipts_text, "".join(f"{x}\n" for x in sorted(x for _, x in
                                                                             self.votes)))
        log(f"{self.law}: record sealed {self.sealed_after:.1f}s after the close")

    def test_3_verify_record_accepts_it(self):
        rc, out = self.verify("--url", self.base_url, "--law", self.law,
                              "--public-key", self.public_key)
        self.assertEqual(rc, 0, out)
        self.assertIn(f"{self.law}: OK", out)
        rc, out = self.verify(*self.saved("honest"), "--public-key", self.public_key)
        self.assertEqual(rc, 0, out)

    def test_4_an_independent_signature_check_agrees(self):
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError:
            self.skipTest("python3-cryptography is not installed")
        body = dict(self.record)
        sig = body.pop("signature")
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public_key)).verify(
            bytes.fromhex(sig["value"]), canonical.encode("utf-8"))

    def test_5_tampered_copies_are_rejected(self):
        changed = json.loads(json.dumps(self.record))
        changed["tally"]["oui"] += 1
        changed["tally"]["non"] -= 1
        rc, out = self.verify(*self.saved("tally", record=changed))
        self.assertEqual(rc, 1, out)
        self.assertIn("signature does not match", out)

        dropped = "".join(self.receipts_text.splitlines(keepends=True)[1:])
        rc, out = self.verify(*self.saved("dropped", receipts=dropped))
        self.assertEqual(rc, 1, out)
        self.assertIn("SHA-256", out)
        self.assertIn(f"has {VOTES - 1} receipts, the record says {VOTES}", out)

        flipped = json.loads(json.dumps(self.record))
        v = flipped["signature"]["value"]
        flipped["signature"]["value"] = v[:20] + ("0" if v[20] != "0" else "1") + v[21:]
        rc, out = self.verify(*self.saved("flipped", record=flipped))
        self.assertEqual(rc, 1, out)
        self.assertIn("signature does not match", out)

        # A record re-signed by someone else's key verifies on its own, never as the election's.
        other_key = os.path.join(self.tmp, "other-record.key")
        if not os.path.exists(other_key):
            harness.run([self.binary, "keygen", "--record-key", "--out", other_key])
        forged = json.loads(json.dumps(self.record))
        forged["signature"]["public_key"] = public_key_of(self.binary, other_key)
        rc, out = self.verify(*self.saved("forged", record=forged),
                              "--public-key", self.public_key)
        self.assertEqual(rc, 1, out)
        self.assertIn("not by the election's published record key", out)

    def test_6_every_voters_receipt_is_counted(self):
        for _, receipt in self.votes:
            r = self.client.get(f"/api/v1/receipts/{receipt.lower().replace('-', '')}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {"receipt": receipt, "law_id": self.law, "counted": True})


class EmbeddedRecordTest(RecordChecks, unittest.TestCase):
    law = "R2026-001"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="scrutin-record-embedded-")
        cls.electorate = harness.Electorate(os.path.join(cls.tmp, "electorate"), [cls.law],
                                            count=VOTES + 10)
        cls.binary = cls.electorate.binary
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        cls.closes_at = now + datetime.timedelta(seconds=12)
        laws = harness.write_laws(os.path.join(cls.tmp, "laws.toml"), [harness.LawSpec(
            cls.law, "Loi", "Act", now - datetime.timedelta(days=1), cls.closes_at)])
        # The record key, made and published before the poll, as an election does.
        cls.record_key = os.path.join(cls.tmp, "record.key")
        harness.run([cls.binary, "keygen", "--record-key", "--out", cls.record_key])
        cls.public_key = public_key_of(cls.binary, cls.record_key)
        cls.server = harness.Server(cls.electorate, laws, os.path.join(cls.tmp, "data"),
                                    os.path.join(cls.tmp, "serve.log"), mix_size=K,
                                    extra_args=["--record-key-file", cls.record_key,
                                                "--mix-settle-ms", str(SETTLE_MS)])
        cls.server.start()
        cls.base_url = cls.server.base_url
        cls.client = harness.Client(cls.base_url)
        cls.before = [cls.client.get(f"/api/v1/record/{cls.law}"),
                      cls.client.get(f"/api/v1/record/{cls.law}/receipts")]
        cls.votes = cast(cls.client, harness.VoterPool(cls.electorate.registry, shuffle_seed=3),
                         cls.law, random.Random(20261206))
        r, cls.sealed_after = wait_record(cls.client, cls.law, cls.closes_at)
        if r.status != 200:
            raise AssertionError(f"no record {RECORD_WAIT_S}s after the close: {r}\n"
                                 f"{cls.server.log_tail()}")
        cls.record_bytes = r.body
        cls.record = r.json()
        cls.receipts_text = cls.client.get(f"/api/v1/record/{cls.law}/receipts").text()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        if os.environ.get("SCRUTIN_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_7_the_record_survives_a_restart_unchanged(self):
        self.server.stop()
        self.server.start()
        client = harness.Client(self.server.base_url)
        r = client.get(f"/api/v1/record/{self.law}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.record_bytes)
        self.assertEqual(client.get(f"/api/v1/record/{self.law}/receipts").text(),
                         self.receipts_text)


class DistributedRecordTest(RecordChecks, unittest.TestCase):
    law = hc.LAW_A

    @classmethod
    def setUpClass(cls):
        # Two aggregators: both mixers reach the close and race to seal; one record must win.
        cls.C = hc.module_cluster("record", validators=1, aggregators=2, voters=VOTES + 10,
                                  law_ids=(hc.LAW_A,), mix_size=K, closes_in=45,
                                  cluster_args=["--mix-settle-ms", str(SETTLE_MS)])
        cls.tmp = cls.C.tmp
        cls.binary = cls.C.binary
        cls.closes_at = cls.C.closes_at.replace(microsecond=0)  # laws.toml holds whole seconds
        cls.public_key = public_key_of(cls.binary, cls.C.env["RECORD_KEY_FILE"])
        cls.base_url = cls.C.api_urls[0]
        cls.client = harness.Client(cls.base_url, timeout=15)
        cls.before = [cls.client.get(f"/api/v1/record/{cls.law}"),
                      cls.client.get(f"/api/v1/record/{cls.law}/receipts")]
        left = (cls.closes_at - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        if left < 10:
            raise AssertionError(f"the cluster took too long to start: the law closes in {left}s")
        cls.votes = cast(cls.client, harness.VoterPool(cls.C.electorate.registry, shuffle_seed=4),
                         cls.law, random.Random(20261207))
        r, cls.sealed_after = wait_record(cls.client, cls.law, cls.closes_at)
        if r.status != 200:
            raise AssertionError(f"no record {RECORD_WAIT_S}s after the close: {r}")
        cls.record = r.json()
        cls.receipts_text = cls.client.get(f"/api/v1/record/{cls.law}/receipts").text()

    def test_7_one_record_wins_the_race(self):
        self.assertEqual(self.C.pg("SELECT count(*) FROM records")[0][0], "1")
        stored = self.C.pg(f"SELECT record FROM records WHERE law_id = '{self.law}'")[0][0]
        self.assertEqual(json.loads(stored), self.record)


if __name__ == "__main__":
    unittest.main(verbosity=2)

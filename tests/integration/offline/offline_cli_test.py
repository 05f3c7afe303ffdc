#!/usr/bin/python3
"""Offline phase end to end, through the real `scrutin` binary.

Runs `voters generate`, `keygen` and `hashgen` (both schemes, both shard formats) and checks the
eligibility database against digests computed here with Python's standard library, independently
of the C++ code. Then checks that bad input is refused with a non-zero exit, one clear error, no
output that looks complete, and never a NAS or code in what the tools print.

Usage: offline_cli_test.py /path/to/scrutin
"""
import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import unittest

SCRUTIN = None
LAWS = ["L2025-001", "Q2026-042"]
VOTERS = 3000


def luhn_ok(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def run(*args, check=True):
    p = subprocess.run([SCRUTIN, *args], capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"scrutin {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def read_rows(path):
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    assert lines[0] == "nas,code,law_id", lines[0]
    return [tuple(line.split(",")) for line in lines[1:]]


def read_database(db):
    """Returns (manifest, digests as hex in file order), verifying the layout independently."""
    with open(os.path.join(db, "manifest.json")) as f:
        manifest = json.load(f)
    digests = []
    for index, shard in enumerate(manifest["shards"]):
        with open(os.path.join(db, shard["file"]), "rb") as f:
            data = f.read()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"], shard["file"]
        if manifest["format"] == "bin":
            assert data[:8] == b"SCRUTHDB"
            version, scheme = struct.unpack_from("<IB", data, 8)
            shard_index, count = struct.unpack_from("<I4xQ", data, 16)
            assert version == 1
            assert scheme == (0 if manifest["scheme"] == "hmac-sha256" else 1)
            assert shard_index == index and count == shard["count"]
            assert len(data) == 64 + 32 * count + 32
            assert data[-32:] == hashlib.sha256(data[:-32]).digest(), "trailer checksum"
            body = data[64:-32]
            digests += [body[i:i + 32].hex() for i in range(0, len(body), 32)]
        else:
            doc = json.loads(data)
            assert set(doc) == {"scheme", "shard", "count", "hashes"}
            assert doc["scheme"] == manifest["scheme"]
            assert doc["shard"] == index and doc["count"] == shard["count"]
            assert all(re.fullmatch("[0-9a-f]{64}", h) for h in doc["hashes"])
            digests += doc["hashes"]
    assert manifest["count"] == len(digests)
    return manifest, digests


class OfflineCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="scrutin_offline_")
        cls.voters = os.path.join(cls.tmp, "voters.csv")
        laws = [a for law in LAWS for a in ("--law", law)]
        cls.generate_out = run("voters", "generate", "--count", str(VOTERS), *laws, "--seed", "7",
                               "--out", cls.voters)
        cls.rows = read_rows(cls.voters)
        cls.secrets = {r[0] for r in cls.rows} | {r[1] for r in cls.rows}
        cls.key_file = os.path.join(cls.tmp, "election.key")
        cls.keygen_out = run("keygen", "--out", cls.key_file)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assertNoSecrets(self, proc):
        text = proc.stdout + proc.stderr
        for s in self.secrets:
            self.assertNotIn(s, text)
        # Nor anything shaped like a 9-digit NAS.
        self.assertIsNone(re.search(r"(?<!\d)\d{9}(?!\d)", text), text)

    def assertRefused(self, proc, *needles):
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("scrutin: error:", proc.stderr)
        for n in needles:
            self.assertIn(n, proc.stderr)
        self.assertNoSecrets(proc)

    # --- voters generate -------------------------------------------------------------------

    def test_generated_registry(self):
        self.assertEqual(len(self.rows), VOTERS * len(LAWS))
        by_voter = {}
        for nas, code, law in self.rows:
            self.assertRegex(nas, r"^\d{9}$")
            self.assertTrue(luhn_ok(nas), nas)
            self.assertRegex(code, r"^[A-Z0-9]{6}$")
            self.assertIn(law, LAWS)
            by_voter.setdefault(nas, set()).add((code, law))
        self.assertEqual(len(by_voter), VOTERS, "NAS are distinct")
        for entries in by_voter.values():
            self.assertEqual({law for _, law in entries}, set(LAWS))
            self.assertEqual(len({code for code, _ in entries}), 1, "one code for all laws")
        self.assertNoSecrets(self.generate_out)

    def test_generation_is_deterministic_per_seed(self):
        again = os.path.join(self.tmp, "again.csv")
        other = os.path.join(self.tmp, "other.csv")
        laws = [a for law in LAWS for a in ("--law", law)]
        run("voters", "generate", "--count", str(VOTERS), *laws, "--seed", "7", "--out", again)
        run("voters", "generate", "--count", str(VOTERS), *laws, "--seed", "8", "--out", other)
        with open(self.voters, "rb") as a, open(again, "rb") as b, open(other, "rb") as c:
            first = a.read()
            self.assertEqual(first, b.read())
            self.assertNotEqual(first, c.read())

    def test_generate_refuses_bad_arguments(self):
        out = os.path.join(self.tmp, "generate-refused.csv")
        self.assertNotEqual(run("voters", "generate", "--count", "10", "--law", "L2025-01",
                                "--seed", "1", "--out", out, check=False).returncode, 0)
        self.assertNotEqual(run("voters", "generate", "--count", "0", "--law", "L2025-001",
                                "--seed", "1", "--out", out, check=False).returncode, 0)
        p = run("voters", "generate", "--count", "10", "--law", "L2025-001", "--seed", "1",
                "--out", os.path.join(self.tmp, "no-such-dir", "x.csv"), check=False)
        self.assertRefused(p)
        self.assertFalse(os.path.exists(out))

    # --- keygen ----------------------------------------------------------------------------

    def test_keygen_file(self):
        mode = stat.S_IMODE(os.stat(self.key_file).st_mode)
        self.assertEqual(mode, 0o600)
        with open(self.key_file) as f:
            text = f.read()
        self.assertRegex(text, r"^[0-9a-f]{64}\n$")
        self.assertNotIn(text.strip(), self.keygen_out.stdout + self.keygen_out.stderr)

    def test_keygen_refuses_to_overwrite(self):
        with open(self.key_file, "rb") as f:
            before = f.read()
        p = run("keygen", "--out", self.key_file, check=False)
        self.assertRefused(p, "already exists")
        with open(self.key_file, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_two_keys_differ(self):
        other = os.path.join(self.tmp, "other.key")
        run("keygen", "--out", other)
        with open(self.key_file) as a, open(other) as b:
            self.assertNotEqual(a.read(), b.read())

    # --- hashgen ---------------------------------------------------------------------------

    def expected_digests(self, scheme):
        with open(self.key_file) as f:
            key = bytes.fromhex(f.read().strip())
        out = []
        for nas, code, law in self.rows:
            msg = f"{nas}|{code}|{law}".encode()
            if scheme == "hmac-sha256":
                out.append(hmac.new(key, msg, hashlib.sha256).hexdigest())
            else:
                out.append(hashlib.sha256(msg).hexdigest())
        return sorted(out)

    def test_hashgen_matches_independent_digests(self):
        for scheme in ("hmac-sha256", "sha256"):
            expected = self.expected_digests(scheme)
            for fmt in ("bin", "json"):
                with self.subTest(scheme=scheme, format=fmt):
                    db = os.path.join(self.tmp, f"db-{scheme}-{fmt}")
                    args = ["hashgen", "--voters", self.voters, "--scheme", scheme, "--out", db,
                            "--shard-size", "2500", "--format", fmt]
                    if scheme == "hmac-sha256":
                        args += ["--key-file", self.key_file]
                    p = run(*args)
                    self.assertNoSecrets(p)
                    self.assertIn(f"{len(self.rows)} digests", p.stdout)
                    manifest, digests = read_database(db)
                    self.assertEqual(manifest["scheme"], scheme)
                    self.assertEqual(manifest["format"], fmt)
                    self.assertEqual(len(manifest["shards"]), 3)  # 6000 digests by 2500
                    self.assertEqual(digests, expected, "sorted, complete, independently equal")
                    self.assertEqual(sorted(os.listdir(db)),
                                     sorted(["manifest.json"] + [s["file"] for s in manifest["shards"]]))

    def test_many_batches_on_several_threads(self):
        # 50,000 rows: several hashing batches in flight at once, whatever the thread count.
        path = os.path.join(self.tmp, "big.csv")
        run("voters", "generate", "--count", "50000", "--law", "L2025-001", "--seed", "3",
            "--out", path)
        with open(self.key_file) as f:
            key = bytes.fromhex(f.read().strip())
        expected = sorted(hmac.new(key, f"{n}|{c}|{l}".encode(), hashlib.sha256).hexdigest()
                          for n, c, l in read_rows(path))
        for threads in ("1", "3"):
            with self.subTest(threads=threads):
                db = os.path.join(self.tmp, f"db-big-{threads}")
                run("hashgen", "--voters", path, "--key-file", self.key_file, "--out", db,
                    "--threads", threads, "--shard-size", "20000")
                manifest, digests = read_database(db)
                self.assertEqual(len(manifest["shards"]), 3)
                self.assertEqual(digests, expected)

    def test_default_scheme_and_format_are_hmac_and_bin(self):
        db = os.path.join(self.tmp, "db-default")
        run("hashgen", "--voters", self.voters, "--key-file", self.key_file, "--out", db)
        manifest, digests = read_database(db)
        self.assertEqual((manifest["scheme"], manifest["format"]), ("hmac-sha256", "bin"))
        self.assertEqual(digests, self.expected_digests("hmac-sha256"))
        p = run("hashgen", "--voters", self.voters, "--key-file", self.key_file, "--out", db,
                check=False)
        self.assertRefused(p, "already holds a hash database")

    def write(self, name, content):
        path = os.path.join(self.tmp, name)
        with open(path, "w", newline="") as f:
            f.write(content)
        return path

    def assertNoDatabase(self, db):
        self.assertFalse(os.path.exists(os.path.join(db, "manifest.json")))

    def test_missing_registry(self):
        db = os.path.join(self.tmp, "db-missing")
        p = run("hashgen", "--voters", os.path.join(self.tmp, "nope.csv"), "--key-file",
                self.key_file, "--out", db, check=False)
        self.assertRefused(p, "nope.csv", "No such file")
        self.assertNoDatabase(db)

    def test_bad_key_files(self):
        db = os.path.join(self.tmp, "db-badkey")
        for name, content in [("short.key", "ab" * 31 + "\n"), ("text.key", "not a key\n"),
                              ("empty.key", "")]:
            with self.subTest(key=name):
                key = self.write(name, content)
                os.chmod(key, 0o600)  # as keygen writes it: refused for its content, not its mode
                p = run("hashgen", "--voters", self.voters, "--key-file", key, "--out", db,
                        check=False)
                self.assertRefused(p, name)
                self.assertNoDatabase(db)
        p = run("hashgen", "--voters", self.voters, "--key-file",
                os.path.join(self.tmp, "absent.key"), "--out", db, check=False)
        self.assertRefused(p, "absent.key")
        p = run("hashgen", "--voters", self.voters, "--out", db, check=False)
        self.assertRefused(p, "--key-file is required")
        self.assertNoDatabase(db)

    def test_bad_rows_are_listed_without_content(self):
        good = self.rows[:5]
        lines = ["nas,code,law_id"] + [",".join(r) for r in good]
        bad_nas = good[0][0][:8] + str((int(good[0][0][8]) + 1) % 10)  # wrong check digit
        lines.insert(3, f"{bad_nas},{good[0][1]},L2025-001")                # line 4
        lines.insert(5, f"{good[1][0]},{good[1][1][:5]},L2025-001")         # line 6
        lines.insert(6, f"{good[2][0]},{good[2][1]}")                      # line 7
        path = self.write("bad.csv", "\r\n".join(lines) + "\r\n")
        db = os.path.join(self.tmp, "db-badrows")
        p = run("hashgen", "--voters", path, "--scheme", "sha256", "--out", db, check=False)
        self.assertRefused(p, "3 bad rows", "nothing written")
        self.assertIn("line 4: nas: checksum", p.stderr)
        self.assertIn("line 6: code: format", p.stderr)
        self.assertIn("line 7: expected 3 fields", p.stderr)
        self.assertNotIn(bad_nas, p.stderr)
        self.assertNoDatabase(db)

    def test_repeated_voter_is_refused(self):
        r = self.rows
        content = "nas,code,law_id\n" + "".join(
            f"{nas},{code},{law}\n" for nas, code, law in [r[0], r[1], r[2], (r[0][0], "ZZZZZZ", r[0][2])])
        db = os.path.join(self.tmp, "db-repeat")
        p = run("hashgen", "--voters", self.write("repeat.csv", content), "--scheme", "sha256",
                "--out", db, check=False)
        self.assertRefused(p, "1 bad row", "once per law", "nothing written")
        self.assertIn("line 5: nas: already listed for law L2025-001", p.stderr)
        self.assertNotIn("ZZZZZZ", p.stderr)
        self.assertNoDatabase(db)
        # Far apart, and adjacent, in a longer file; the same NAS on two laws is fine.
        rows = [r for r in self.rows[:200]]
        rows.append(rows[0])                    # line 202 repeats line 2
        rows.insert(100, rows[99])              # line 102 repeats line 101
        content = "nas,code,law_id\n" + "".join(",".join(r) + "\n" for r in rows)
        p = run("hashgen", "--voters", self.write("repeat2.csv", content), "--scheme", "sha256",
                "--out", db, check=False)
        self.assertRefused(p, "2 bad rows", "2 repeating")
        self.assertIn("line 102: nas: already listed for law", p.stderr)
        self.assertIn("line 203: nas: already listed for law", p.stderr)
        self.assertNoDatabase(db)

    def test_bad_header_and_empty_registry(self):
        db = os.path.join(self.tmp, "db-header")
        p = run("hashgen", "--voters", self.write("noheader.csv", ",".join(self.rows[0]) + "\n"),
                "--scheme", "sha256", "--out", db, check=False)
        self.assertRefused(p, "expected the header nas,code,law_id")
        p = run("hashgen", "--voters", self.write("headeronly.csv", "nas,code,law_id\n"),
                "--scheme", "sha256", "--out", db, check=False)
        self.assertRefused(p, "no rows")
        self.assertNoDatabase(db)

    def test_bad_options(self):
        db = os.path.join(self.tmp, "db-options")
        for extra, needle in [(["--scheme", "md5"], "--scheme"), (["--format", "xml"], "--format")]:
            p = run("hashgen", "--voters", self.voters, "--key-file", self.key_file, "--out", db,
                    *extra, check=False)
            self.assertRefused(p, needle)
        p = run("hashgen", "--voters", self.voters, "--scheme", "sha256", "--out",
                "/proc/scrutin-cannot-write-here", check=False)
        self.assertRefused(p)
        self.assertNoDatabase(db)


if __name__ == "__main__":
    SCRUTIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)

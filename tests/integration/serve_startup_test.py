#!/usr/bin/python3
"""`scrutin serve` start-up, configuration and clean restarts (embedded shape).

- Refuses to start, with a clear message and a non-zero exit, on: an unknown key in laws.toml (a
  typo must not silently change an election), an hmac-sha256 eligibility database without
  --key-file, a tampered eligibility shard (manifest checksums), a missing --hashes directory.
- Every flag can come from the environment (SCRUTIN_<FLAG>).
- The compatibility scheme (sha256, no key) and the json shard format serve votes too.
- SIGTERM and SIGINT stop it with exit 0; after a clean restart on the same --data, statuses,
  duplicates and results are as before.
- Process hygiene (src/apps/process_hygiene.hpp): an election key file that group or others may
  read or write is refused like ssh refuses a private key; a running serve has a core file size
  limit of 0 and is not dumpable.
"""

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import types
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


class ServeStartupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="scrutin-startup-")
        cls.ballot = harness.standard_ballot()
        cls.law = cls.ballot["open_a"].law_id
        cls.electorate = harness.Electorate(os.path.join(cls.tmp, "electorate"),
                                            [law.law_id for law in cls.ballot.values()],
                                            count=300)
        cls.laws_file = harness.write_laws(os.path.join(cls.tmp, "laws.toml"),
                                           cls.ballot.values())

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("SCRUTIN_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def new_dir(self, name):
        return tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp)

    def serve_must_fail(self, args, mentions, timeout=20):
        """Runs `scrutin serve args`; it must exit non-zero before `timeout` and its output must
        contain every string in `mentions` (case-insensitive)."""
        port = harness.free_port()
        cmd = [self.electorate.binary, "serve", "--listen", f"127.0.0.1:{port}", *args]
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"serve kept running with a bad configuration: {' '.join(cmd)}")
        out = p.stdout.decode("utf-8", errors="replace")
        self.assertNotEqual(p.returncode, 0, f"serve accepted a bad configuration:\n{out}")
        for m in mentions:
            self.assertIn(m.lower(), out.lower(), f"the error should mention {m!r}:\n{out}")
        self.assertNotIn("Traceback", out)
        self.assertLess(len(out), 20000, "a configuration error should be short")
        return out

    def base_args(self, **override):
        args = {"--hashes": self.electorate.hashes_dir, "--laws": self.laws_file,
                "--data": self.new_dir("data"), "--key-file": self.electorate.key_file}
        args.update(override)
        out = []
        for k, v in args.items():
            if v is not None:
                out += [k, v]
        return out

    def test_help_explains_every_flag(self):
        out = harness.run([self.electorate.binary, "serve", "--help"])
        for flag in ("--hashes", "--laws", "--data", "--key-file", "--listen", "--threads",
                     "--rate-limit", "--web"):
            self.assertIn(flag, out)
            self.assertIn("SCRUTIN_" + flag[2:].upper().replace("-", "_"), out,
                          f"--help should name the environment variable of {flag}")

    def test_unknown_key_in_laws_toml(self):
        bad = os.path.join(self.new_dir("laws"), "laws.toml")
        with open(self.laws_file, encoding="utf-8") as f:
            text = f.read()
        with open(bad, "w", encoding="utf-8") as f:
            f.write(text.replace("closes_at =", 'titel_fr = "typo"\ncloses_at =', 1))
        self.serve_must_fail(self.base_args(**{"--laws": bad}), ["titel_fr"])

    def test_malformed_law_id_and_inverted_window(self):
        d = self.new_dir("laws")
        bad = os.path.join(d, "bad-id.toml")
        with open(self.laws_file, encoding="utf-8") as f:
            text = f.read()
        with open(bad, "w", encoding="utf-8") as f:
            f.write(text.replace(f'id = "{self.law}"', 'id = "law-one"', 1))
        self.serve_must_fail(self.base_args(**{"--laws": bad}), ["law-one"])
        spec = self.ballot["open_a"]
        inverted = harness.LawSpec(spec.law_id, "a", "b", spec.closes_at, spec.opens_at)
        bad2 = harness.write_laws(os.path.join(d, "inverted.toml"), [inverted])
        self.serve_must_fail(self.base_args(**{"--laws": bad2}), [spec.law_id])

    def test_hmac_database_without_key_is_refused(self):
        self.serve_must_fail(self.base_args(**{"--key-file": None}), ["key"])

    def test_tampered_shard_is_refused(self):
        copy = os.path.join(self.new_dir("hashes"), "hashes")
        shutil.copytree(self.electorate.hashes_dir, copy)
        shards = sorted(os.path.join(copy, n) for n in os.listdir(copy) if n != "manifest.json")
        self.assertTrue(shards, "hashgen wrote no shard next to manifest.json")
        with open(shards[0], "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x01
            f.seek(0)
            f.write(data)
        self.serve_must_fail(self.base_args(**{"--hashes": copy}), [])

    def test_missing_hashes_directory(self):
        missing = os.path.join(self.tmp, "does-not-exist")
        self.serve_must_fail(self.base_args(**{"--hashes": missing}), ["does-not-exist"])

    def test_key_file_open_to_group_or_others_is_refused(self):
        """Like ssh with a private key: a key file that group or others may read (or write) is
        refused, the message naming the file, its mode and the fix."""
        d = self.new_dir("key")
        with open(self.electorate.key_file, "rb") as f:
            key = f.read()
        for mode in (0o644, 0o640, 0o604, 0o660):
            path = os.path.join(d, f"election-{mode:o}.key")
            with open(path, "wb") as f:
                f.write(key)
            os.chmod(path, mode)
            out = self.serve_must_fail(self.base_args(**{"--key-file": path}),
                                       [f"{mode:04o}", "too open", "chmod 600", path])
            self.assertNotIn(key.decode().strip(), out, "the error echoes the key")
        # The same bytes with the owner-only modes keygen writes (0600) or 0400 are accepted.
        for mode in (0o600, 0o400):
            path = os.path.join(d, f"ok-{mode:o}.key")
            with open(path, "wb") as f:
                f.write(key)
            os.chmod(path, mode)
            server = harness.Server(
                harness_electorate_with_key(self.electorate, path), self.laws_file,
                self.new_dir("data"), os.path.join(self.tmp, f"key-{mode:o}.log"))
            server.start()
            self.assertEqual(server.stop(), 0)

    def test_keygen_writes_an_owner_only_key(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.electorate.key_file).st_mode), 0o600)

    def test_no_core_dumps_and_not_dumpable(self):
        """A running serve: "Max core file size" 0 (soft and hard) in /proc/PID/limits, and not
        dumpable, which the kernel shows by making /proc/PID/* root's. As root that ownership
        proves nothing, so serve then runs as nobody (65534) on a copy of the electorate."""
        as_root = os.geteuid() == 0
        if as_root:
            # Outside self.tmp (0700, root's), which nobody could not enter.
            d = tempfile.mkdtemp(prefix="scrutin-nobody-")
            self.addCleanup(shutil.rmtree, d, True)
            os.chmod(d, 0o755)
            hashes = os.path.join(d, "hashes")
            shutil.copytree(self.electorate.hashes_dir, hashes)
            key = os.path.join(d, "election.key")
            shutil.copyfile(self.electorate.key_file, key)
            os.chmod(key, 0o600)
            laws = os.path.join(d, "laws.toml")
            shutil.copyfile(self.laws_file, laws)
            data = os.path.join(d, "data")
            os.makedirs(data)
            for root, dirs, files in os.walk(d):
                for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                    os.chown(name, NOBODY, NOBODY)
            electorate = harness_electorate_with_key(self.electorate, key, hashes)
            server = harness.Server(electorate, laws, data, os.path.join(self.tmp, "dump.log"),
                                    preexec_fn=become_nobody)
            # The control: a process of the same user that did not ask is dumpable.
            control = subprocess.Popen(["sleep", "30"], preexec_fn=become_nobody)
        else:
            server = harness.Server(self.electorate, self.laws_file, self.new_dir("data"),
                                    os.path.join(self.tmp, "dump.log"))
            control = subprocess.Popen(["sleep", "30"])
        server.start()
        try:
            pid = server.proc.pid
            with open(f"/proc/{pid}/limits", encoding="ascii") as f:
                core = [line for line in f if line.startswith("Max core file size")]
            self.assertEqual(len(core), 1, "no core line in /proc/PID/limits")
            self.assertEqual(core[0].split()[4:6], ["0", "0"],
                             f"core dumps not disabled (soft and hard): {core[0].strip()}")
            uid = proc_real_uid(pid)
            self.assertNotEqual(uid, 0, "serve must run unprivileged for this check")
            self.assertEqual(os.stat(f"/proc/{control.pid}/status").st_uid, uid,
                             "control: a dumpable process owns its /proc/PID files")
            self.assertEqual(os.stat(f"/proc/{pid}/status").st_uid, 0,
                             "serve is dumpable: its /proc/PID files are still its own "
                             "(PR_SET_DUMPABLE 0 makes them root's)")
        finally:
            control.kill()
            control.wait()
            self.assertEqual(server.stop(), 0)


    def test_flags_from_environment(self):
        server = harness.Server(self.electorate, self.laws_file, self.new_dir("data"),
                                os.path.join(self.tmp, "env.log"), rate_limit=0,
                                flags_via_env=True)
        server.start()
        try:
            t = harness.Client(server.base_url)
            voter = self.electorate.registry.voters[0]
            r = t.post_vote({"nas": voter.nas, "code": voter.code, "law_id": self.law,
                             "vote": "oui"})
            self.assertEqual(r.status, 202, r)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_sha256_scheme_and_json_shards(self):
        e = harness.Electorate(os.path.join(self.new_dir("el"), "e"), [self.law], count=200,
                               seed=7, scheme="sha256", fmt="json")
        self.assertIsNone(e.key_file)
        server = harness.Server(e, self.laws_file, self.new_dir("data"),
                                os.path.join(self.tmp, "sha.log"))
        server.start()
        try:
            c = harness.Client(server.base_url)
            voter = e.registry.voters[3]
            r = c.post_vote({"nas": voter.nas, "code": voter.code, "law_id": self.law,
                             "vote": "non"})
            self.assertEqual(r.status, 202, r)
            final = c.get(f"/api/v1/vote/{r.json()['request_id']}").json()
            self.assertEqual(final["status"], "accepted")
            nas, code = harness.unregistered_credential(e.registry, random.Random())
            r = c.post_vote({"nas": nas, "code": code, "law_id": self.law, "vote": "non"})
            final = c.get(f"/api/v1/vote/{r.json()['request_id']}").json()
            self.assertEqual(final["status"], "invalid")
        finally:
            self.assertEqual(server.stop(), 0)

    def test_signal_right_after_ready_exits_zero(self):
        """SIGINT or SIGTERM as soon as /api/v1/health answers must already be a graceful stop
        (exit 0): a load balancer or orchestrator may stop a server the moment it is ready."""
        server = harness.Server(self.electorate, self.laws_file, self.new_dir("data"),
                                os.path.join(self.tmp, "signals.log"))
        codes = []
        for i in range(10):
            sig = signal.SIGINT if i % 2 else signal.SIGTERM
            server.start()
            server.proc.send_signal(sig)
            try:
                server.proc.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                self.fail(f"serve ignored {sig.name}")
            codes.append((sig.name, server.proc.returncode))
        bad = [c for c in codes if c[1] != 0]
        self.assertEqual(bad, [], "exit status after a signal sent right after readiness "
                         "(negative: killed by the signal, i.e. no handler installed yet)")

    def test_second_server_on_the_same_data_directory(self):
        """Two processes on one --data (an operator starting the new server before the old one
        stopped) must not both accept one credential: the second should refuse to start; if it
        does start, the same credential voted through each must be accepted once, duplicate once
        (a second `accepted` would hand the voter a receipt for a ballot never counted)."""
        data = self.new_dir("data")
        first = harness.Server(self.electorate, self.laws_file, data,
                               os.path.join(self.tmp, "first.log"))
        second = harness.Server(self.electorate, self.laws_file, data,
                                os.path.join(self.tmp, "second.log"))
        first.start()
        try:
            try:
                second.start(timeout=15)
            except harness.HarnessError:
                self.assertFalse(second.running())
                self.assertEqual(harness.Client(first.base_url).get("/api/v1/health").status, 200)
                return
            voter = self.electorate.registry.voters[40]
            statuses = []
            for server in (first, second):
                c = harness.Client(server.base_url)
                r = c.post_vote({"nas": voter.nas, "code": voter.code, "law_id": self.law,
                                 "vote": "oui"})
                self.assertEqual(r.status, 202, r)
                statuses.append(c.get(f"/api/v1/vote/{r.json()['request_id']}").json()["status"])
            self.assertEqual(statuses, ["accepted", "duplicate"],
                             "a second serve on the same --data accepted a credential already "
                             "accepted by the first (it should refuse to start: lock --data)")
        finally:
            second.kill()
            first.kill()

    def test_clean_restart_keeps_everything(self):
        server = harness.Server(self.electorate, self.laws_file, self.new_dir("data"),
                                os.path.join(self.tmp, "restart.log"))
        server.start()
        c = harness.Client(server.base_url)
        voters = self.electorate.registry.voters[10:30]
        ids = {}
        for i, v in enumerate(voters):
            choice = "oui" if i % 3 else "non"
            r = c.post_vote({"nas": v.nas, "code": v.code, "law_id": self.law, "vote": choice})
            self.assertEqual(r.status, 202, r)
            ids[r.json()["request_id"]] = c.get(f"/api/v1/vote/{r.json()['request_id']}").json()
        v0 = voters[0]
        r = c.post_vote({"nas": v0.nas, "code": v0.code, "law_id": self.law, "vote": "oui"})
        ids[r.json()["request_id"]] = c.get(f"/api/v1/vote/{r.json()['request_id']}").json()
        before = c.get(f"/api/v1/results/{self.law}").json()
        self.assertEqual((before["oui"], before["non"]), (13, 7))
        self.assertEqual(server.stop(), 0)

        start = time.monotonic()
        server.start()
        print(f"\nrestart took {time.monotonic() - start:.2f}s", file=sys.stderr)
        c = harness.Client(server.base_url)
        try:
            for rid, body in ids.items():
                self.assertEqual(c.get(f"/api/v1/vote/{rid}").json(), body)
            after = c.get(f"/api/v1/results/{self.law}").json()
            self.assertEqual((after["oui"], after["non"]), (before["oui"], before["non"]))
            # The voted set and attempt counts were rebuilt: the next attempt is the third.
            r = c.post_vote({"nas": v0.nas, "code": v0.code, "law_id": self.law, "vote": "non"})
            final = c.get(f"/api/v1/vote/{r.json()['request_id']}").json()
            self.assertEqual((final["status"], final["attempt_count"]), ("duplicate", 3))
        finally:
            self.assertEqual(server.stop(), 0)
        # The log is JSON lines (the harness's own "# harness:" lines aside).
        with open(server.log_path, encoding="utf-8") as f:
            lines = [line for line in f.read().splitlines()
                     if line.strip() and not line.startswith("# harness:")]
        self.assertTrue(lines, "serve logged nothing")
        for line in lines:
            try:
                self.assertIsInstance(json.loads(line), dict, line)
            except ValueError:
                self.fail(f"log line is not JSON: {line[:200]!r}")


NOBODY = 65534


def become_nobody():
    """preexec_fn: drop to nobody:nogroup (65534), with no supplementary groups."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def proc_real_uid(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError(f"no Uid line in /proc/{pid}/status")


def harness_electorate_with_key(electorate, key_file, hashes_dir=None):
    """A stand-in for `electorate` with another key file (and hashes directory), for Server."""
    return types.SimpleNamespace(binary=electorate.binary, key_file=key_file,
                                 hashes_dir=hashes_dir or electorate.hashes_dir)


if __name__ == "__main__":
    unittest.main(verbosity=2)

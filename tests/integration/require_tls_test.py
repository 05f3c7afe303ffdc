#!/usr/bin/python3
"""`--require-tls` (src/apps/tls_policy.hpp): every command with a network link refuses to start,
naming the link and what to change, when that link would not be verified TLS, before it connects
to anything over it; and lets a verified link through.

The backends' addresses here are unreachable on purpose (127.0.0.1:1): a command that got past
the check would fail with "cannot connect" instead, which tells the two apart without servers.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

PG_PLAIN = "postgresql://u:secret@127.0.0.1:1/db"
PG_VERIFIED = PG_PLAIN + "?sslmode=verify-full"
AMQP_PLAIN = "amqp://guest:guest@127.0.0.1:1/"
AMQP_TLS = "amqps://guest:guest@localhost:1/"
REDIS_PLAIN = "redis://127.0.0.1:1"
REDIS_TLS = "rediss://127.0.0.1:1"


class RequireTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="scrutin-require-tls-")
        cls.binary = harness.find_binary()
        ballot = harness.standard_ballot()
        cls.laws = os.path.join(cls.tmp, "laws.toml")
        harness.write_laws(cls.laws, [ballot["open_a"]])
        cls.electorate = harness.Electorate(os.path.join(cls.tmp, "electorate"),
                                            [ballot["open_a"].law_id], count=50)
        cls.ballot_key = os.path.join(cls.tmp, "ballot.key")
        harness.run([cls.binary, "keygen", "--ballot-key", "--out", cls.ballot_key])
        cls.record_key = os.path.join(cls.tmp, "record.key")
        harness.run([cls.binary, "keygen", "--record-key", "--out", cls.record_key])

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("SCRUTIN_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_cmd(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("SCRUTIN_", "PG"))}
        e["SCRUTIN_BIN"] = self.binary
        e.update(env or {})
        p = subprocess.run([self.binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60, env=e)
        return p.returncode, p.stdout.decode(errors="replace")

    def assert_refused(self, args, link, env=None):
        rc, out = self.run_cmd(*args, env=env)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("--require-tls:", out)
        self.assertIn(link, out)
        self.assertNotIn("secret", out, "a password in the error")

    def assert_past_the_check(self, args, env=None):
        rc, out = self.run_cmd(*args, env=env)
        self.assertNotIn("--require-tls:", out)
        self.assertNotEqual(rc, 0, out)  # nothing listens there

    def worker(self, kind, amqp, redis, pg=None, admin="127.0.0.1:0"):
        args = [kind, "--require-tls", "--laws", self.laws, "--amqp", amqp, "--redis", redis,
                "--admin-listen", admin]
        if pg is not None:
            args += ["--pg", pg]
        if kind == "aggregator":
            args += ["--ballot-key-file", self.ballot_key, "--record-key-file", self.record_key]
        return args

    def test_each_plain_link_is_refused_and_named(self):
        self.assert_refused(self.worker("validator", AMQP_PLAIN, REDIS_TLS), "RabbitMQ")
        self.assert_refused(self.worker("validator", AMQP_TLS, REDIS_PLAIN), "Redis")
        self.assert_refused(self.worker("aggregator", AMQP_TLS, REDIS_TLS, PG_PLAIN), "PostgreSQL")
        self.assert_refused(self.worker("validator", AMQP_TLS, REDIS_TLS, admin="0.0.0.0:9100"),
                            "admin listener")
        self.assert_refused(["load-hashes", "--require-tls", "--redis", REDIS_PLAIN, "--hashes",
                             self.electorate.hashes_dir], "Redis")
        self.assert_refused(["deadletter", "list", "--require-tls", "--amqp", AMQP_PLAIN],
                            "RabbitMQ")
        self.assert_refused(["ledger", "rebuild", "--require-tls", "--redis", REDIS_TLS,
                             "--hashes", self.electorate.hashes_dir, "--pg", PG_PLAIN],
                            "PostgreSQL")
        # sslmode=require encrypts but trusts any certificate: not good enough.
        self.assert_refused(["ledger", "rebuild", "--require-tls", "--redis", REDIS_TLS,
                             "--hashes", self.electorate.hashes_dir, "--pg",
                             PG_PLAIN + "?sslmode=require"], "sslmode=require")
        # serve: its public port.
        self.assert_refused(["serve", "--require-tls", "--hashes", self.electorate.hashes_dir,
                             "--key-file", self.electorate.key_file, "--laws", self.laws,
                             "--data", os.path.join(self.tmp, "data"), "--listen",
                             "127.0.0.1:0"], "public port")
        # The environment variable does the same as the flag.
        args = self.worker("validator", AMQP_PLAIN, REDIS_TLS)
        args.remove("--require-tls")
        self.assert_refused(args, "RabbitMQ", env={"SCRUTIN_REQUIRE_TLS": "true"})

    def test_verified_links_pass_the_check(self):
        self.assert_past_the_check(self.worker("aggregator", AMQP_TLS, REDIS_TLS, PG_VERIFIED))
        # PGSSLMODE counts when the URL says nothing.
        self.assert_past_the_check(self.worker("aggregator", AMQP_TLS, REDIS_TLS, PG_PLAIN),
                                   env={"PGSSLMODE": "verify-full"})
        # Without the flag, plain links are allowed (the check is opt-in).
        rc, out = self.run_cmd("validator", "--laws", self.laws, "--amqp", AMQP_PLAIN, "--redis",
                               REDIS_PLAIN)
        self.assertNotIn("--require-tls:", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)

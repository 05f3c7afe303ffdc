#!/usr/bin/env python3
"""Emergency close and extension on the admin port (docs/operations.md "Emergency close and
extension"), in both shapes, as an election authority's operator, a voter and an auditor see them:

  - every request to the admin port needs the bearer token (none, a wrong one, Basic: 401, and
    nothing changes); the public port has no admin route;
  - an emergency close is enforced at once (embedded) or on every api within a second
    (distributed: closed through api-1's admin port, votes refused by api-2);
  - an extension reopens a closed law until its record is sealed; closing twice is 409
    law_closed, an earlier time 422 closes_at_too_early, a bad body 400, an unknown law 404;
  - the record is sealed seconds after the emergency close, for the close in force, and verifies;
    after that the close no longer moves (409 record_sealed);
  - every action is in the audit trail (admin_audit), in order, with the previous and new close;
    a restart keeps the moved close.

Run by ctest (label `admin`): python3 tests/admin/admin_test.py [Embedded|Distributed]
"""

import datetime
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "distributed"))

import harness  # noqa: E402
import harness_cluster as hc  # noqa: E402

SETTLE_MS = 4000  # time to reopen a closed law before its record is sealed
RECORD_WAIT_S = 20


def log(msg):
    print(f"[admin] {msg}", file=sys.stderr, flush=True)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def write_token(path):
    token = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


class Admin:
    """A client of one admin port."""

    def __init__(self, base_url, token):
        self.base_url = base_url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, auth="token"):
        headers = {}
        if auth == "token":
            headers["Authorization"] = f"Bearer {self.token}"
        elif auth is not None:
            headers["Authorization"] = auth
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)

    def close(self, law, **kw):
        return self.call("POST", f"/admin/v1/laws/{law}/close", b"", **kw)

    def extend(self, law, closes_at, **kw):
        body = closes_at if isinstance(closes_at, (bytes, dict)) else {"closes_at": closes_at}
        return self.call("POST", f"/admin/v1/laws/{law}/extend", body, **kw)


def vote(client, pool, law):
    voter = pool.take((law,))
    return client.post_vote({"nas": voter.nas, "code": voter.code, "law_id": law, "vote": "oui"})


def rfc3339(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class AdminChecks:
    """Shared by both shapes. Subclasses set: admin (Admin of the port acted on), client (a public
    client), enforcer (the public client that must enforce the action: another api in the
    distributed shape), pool, law (acted on), other (left alone), binary, audit_rows()."""

    def test_1_the_token_is_required_and_the_public_port_has_no_admin_route(self):
        for auth in (None, "Bearer " + "0" * 64, "Basic " + self.admin.token,
                     "Bearer " + self.admin.token[:-1]):
            status, body, headers = self.admin.close(self.other, auth=auth)
            self.assertEqual(status, 401, body)
            self.assertEqual(json.loads(body)["error"], "unauthorized")
            self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))
        status, _, _ = self.admin.call("GET", "/metrics", auth=None)
        self.assertEqual(status, 401)
        status, _, _ = self.admin.call("GET", "/metrics")
        self.assertEqual(status, 200)
        # The public port has no admin route: a static path that takes no POST.
        r = self.client.request("POST", f"/admin/v1/laws/{self.other}/close", body=b"")
        self.assertIn(r.status, (404, 405), r)
        self.assertTrue(self.enforcer_accepts(self.other), "a refused action changed something")
        self.assertEqual(self.audit_rows(), [])

    def test_2_bad_requests_change_nothing(self):
        status, body, _ = self.admin.close("L2099-001")
        self.assertEqual((status, json.loads(body)["error"]), (404, "unknown_law"))
        status, body, _ = self.admin.extend(self.other, b"not json")
        self.assertEqual((status, json.loads(body)["error"]), (400, "malformed_json"))
        status, body, _ = self.admin.extend(self.other, {"closes_at": "tomorrow"})
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body)["fields"], {"closes_at": "format"})
        status, body, _ = self.admin.extend(self.other, rfc3339(now() - datetime.timedelta(hours=1)))
        self.assertEqual((status, json.loads(body)["error"]), (422, "closes_at_too_early"))
        self.assertEqual(self.audit_rows(), [])

    def test_3_close_reopen_close_seal(self):
        t0 = time.monotonic()
        self.assertEqual(vote(self.enforcer, self.pool, self.law).status, 202)
        # The emergency close.
        status, body, _ = self.admin.close(self.law)
        self.assertEqual(status, 200, body)
        closed = json.loads(body)
        self.assertEqual(closed["law_id"], self.law)
        first_close = harness.parse_rfc3339(closed["closes_at"])
        self.assertLess(abs((first_close - now()).total_seconds()), 5)
        took = self.wait_enforced(closed=True)
        log(f"{self.law}: close enforced after {took:.2f}s")
        self.assertLess(took, 1.5, "the close took effect after more than a second")
        listed = {law["law_id"]: law for law in self.client.get("/api/v1/laws").json()}
        self.assertEqual(harness.parse_rfc3339(listed[self.law]["closes_at"]), first_close)
        status, body, _ = self.admin.close(self.law)
        self.assertEqual((status, json.loads(body)["error"]), (409, "law_closed"))

        # Reopened before its record is sealed.
        reopen_until = now() + datetime.timedelta(seconds=6)
        status, body, _ = self.admin.extend(self.law, rfc3339(reopen_until))
        self.assertEqual(status, 200, body)
        self.wait_enforced(closed=False)
        self.assertEqual(vote(self.enforcer, self.pool, self.law).status, 202)

        # Closed again; the record follows, for the close in force.
        status, body, _ = self.admin.close(self.law)
        self.assertEqual(status, 200, body)
        final_close = harness.parse_rfc3339(json.loads(body)["closes_at"])
        self.wait_enforced(closed=True)
        deadline = time.monotonic() + RECORD_WAIT_S
        while True:
            r = self.client.get(f"/api/v1/record/{self.law}")
            if r.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r.status, 200, r)
        record = r.json()
        self.assertEqual(harness.parse_rfc3339(record["closes_at"]), final_close)
        self.assertEqual(record["tally"]["total"], 2)
        p = subprocess.run([self.binary, "verify-record", "--url", self.public_url, "--law",
                            self.law], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # Sealed: the close no longer moves, and nothing else changed.
        status, body, _ = self.admin.extend(self.law, rfc3339(now() + datetime.timedelta(hours=1)))
        self.assertEqual((status, json.loads(body)["error"]), (409, "record_sealed"))
        self.assertEqual(vote(self.enforcer, self.pool, self.law).status, 403)
        self.assertTrue(self.enforcer_accepts(self.other))

        # The audit trail: every action, in order, nothing for the refused ones.
        rows = self.audit_rows()
        self.assertEqual([r[0] for r in rows], ["close", "extend", "close"], rows)
        self.assertTrue(all(r[1] == self.law for r in rows))
        self.assertEqual(harness.parse_rfc3339(rows[0][3]), first_close)
        self.assertEqual(harness.parse_rfc3339(rows[1][3]).replace(microsecond=0),
                         reopen_until.replace(microsecond=0))
        self.assertEqual(harness.parse_rfc3339(rows[2][2]).replace(microsecond=0),
                         reopen_until.replace(microsecond=0))
        log(f"{self.law}: close, reopen, close, seal in {time.monotonic() - t0:.1f}s")

    def enforcer_accepts(self, law):
        return vote(self.enforcer, self.pool, law).status == 202

    def wait_enforced(self, closed):
        """Seconds until the enforcing api answers the law's window as `closed` says."""
        t0 = time.monotonic()
        while True:
            laws = {law["law_id"]: law for law in self.enforcer.get("/api/v1/laws").json()}
            closes = harness.parse_rfc3339(laws[self.law]["closes_at"])
            if (closes <= now()) == closed:
                return time.monotonic() - t0
            if time.monotonic() - t0 > 10:
                raise AssertionError(f"{self.law} still {'open' if closed else 'closed'} after 10s")
            time.sleep(0.05)


class EmbeddedAdminTest(AdminChecks, unittest.TestCase):
    law, other = "A2026-001", "A2026-002"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="scrutin-admin-embedded-")
        cls.electorate = harness.Electorate(os.path.join(cls.tmp, "electorate"),
                                            [cls.law, cls.other], count=40)
        cls.binary = cls.electorate.binary
        t = now()
        laws = harness.write_laws(os.path.join(cls.tmp, "laws.toml"), [
            harness.LawSpec(law, "Loi", "Act", t - datetime.timedelta(days=1),
                            t + datetime.timedelta(hours=2)) for law in (cls.law, cls.other)])
        token_file = os.path.join(cls.tmp, "admin.token")
        token = write_token(token_file)
        admin_port = harness.free_port()
        cls.data = os.path.join(cls.tmp, "data")
        cls.server = harness.Server(cls.electorate, laws, cls.data,
                                    os.path.join(cls.tmp, "serve.log"),
                                    extra_args=["--admin-listen", f"127.0.0.1:{admin_port}",
                                                "--admin-token-file", token_file,
                                                "--mix-settle-ms", str(SETTLE_MS)])
        cls.server.start()
        cls.public_url = cls.server.base_url
        cls.client = cls.enforcer = harness.Client(cls.public_url)
        cls.admin = Admin(f"http://127.0.0.1:{admin_port}", token)
        cls.pool = harness.VoterPool(cls.electorate.registry, shuffle_seed=5)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        if os.environ.get("SCRUTIN_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def audit_rows(self):
        db = sqlite3.connect(f"file:{os.path.join(self.data, 'scrutin.db')}?mode=ro", uri=True)
        with db:
            return db.execute("SELECT action, law_id, previous_closes_at, closes_at FROM "
                              "admin_audit ORDER BY id").fetchall()

    def test_4_a_restart_keeps_the_moved_close(self):
        self.server.stop()
        self.server.start()
        client = harness.Client(self.server.base_url)
        self.assertEqual(vote(client, self.pool, self.law).status, 403)
        self.assertEqual(vote(client, self.pool, self.other).status, 202)


class DistributedAdminTest(AdminChecks, unittest.TestCase):
    law, other = hc.LAW_A, hc.LAW_B

    @classmethod
    def setUpClass(cls):
        tmp = tempfile.mkdtemp(prefix="scrutin-admin-token-")
        os.chmod(tmp, 0o755)
        token_file = os.path.join(tmp, "admin.token")
        token = write_token(token_file)
        cls.token_dir = tmp
        cls.C = hc.module_cluster(
            "admin", apis=2, validators=1, voters=40, law_ids=(hc.LAW_A, hc.LAW_B),
            cluster_args=["--mix-settle-ms", str(SETTLE_MS),
                          "--api-flags", f"--admin-token-file {token_file}"])
        cls.binary = cls.C.binary
        admin_urls = [u for u in cls.C.env.get("API_ADMIN_URLS", "").split(",") if u]
        if len(admin_urls) < 2:
            raise AssertionError(f"the apis have no admin ports: {cls.C.env}")
        cls.public_url = cls.C.api_urls[0]
        cls.client = harness.Client(cls.C.api_urls[0], timeout=15)
        # Acted on through api-1's admin port, enforced by api-2.
        cls.admin = Admin(admin_urls[0], token)
        cls.enforcer = harness.Client(cls.C.api_urls[1], timeout=15)
        cls.pool = harness.VoterPool(cls.C.electorate.registry, shuffle_seed=6)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.token_dir, ignore_errors=True)

    def enforcer_accepts(self, law):
        # The distributed api answers 202 pending: the window is what it enforces.
        return vote(self.enforcer, self.pool, law).status == 202

    def audit_rows(self):
        rows = self.C.pg("SELECT action, law_id, to_char(previous_closes_at AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), to_char(closes_at AT TIME ZONE "
                         "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM admin_audit ORDER BY id")
        return [tuple(r) for r in rows]


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""The system under test, whatever its shape.

`Target.acquire()` either points at a running deployment (env SCRUTIN_BASE_URL, with its registry
in SCRUTIN_VOTERS_CSV for the tests that need eligible credentials) or builds a fresh electorate
and starts its own embedded `scrutin serve`. Tests then only use the base URL, the registry and the
laws by role, so the same test file checks the embedded and the distributed shapes.

Against a shared deployment the tests compare result deltas, not absolute counts, and pick voters
in a random order (a voter already used by an earlier run answers `duplicate`; `Target.vote_fresh`
then tries another one).
"""

import contextlib
import datetime
import os
import random
import re
import shutil
import tempfile
import time

from . import credentials
from . import client as http
from . import server

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SNAKE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FINAL_STATUSES = ("accepted", "duplicate", "invalid")

ROLES = ("open_a", "open_b", "closed", "future", "embargoed")


def keep_tmp():
    return os.environ.get("SCRUTIN_KEEP_TMP") == "1"


class Target:
    def __init__(self):
        self.tmp = None
        self.electorate = None
        self.server = None
        self.base_url = None
        self.registry = None
        self.laws = {}  # role -> law_id
        self.law_info = {}  # law_id -> the /api/v1/laws entry
        self.shared = False
        self.client = None
        self.pool = None
        self.rng = random.Random()

    # ---- set-up and tear-down ------------------------------------------------------------------

    @classmethod
    def acquire(cls, name, voters=2000, rate_limit=0):
        t = cls()
        base = os.environ.get("SCRUTIN_BASE_URL")
        if base:
            t.shared = True
            t.base_url = base.rstrip("/")
            csv_path = os.environ.get("SCRUTIN_VOTERS_CSV")
            if csv_path:
                t.registry = credentials.Registry.load(csv_path)
                t.pool = credentials.VoterPool(t.registry, shuffle_seed=random.randrange(2**63))
        else:
            t.tmp = tempfile.mkdtemp(prefix=f"scrutin-{name}-")
            ballot = server.standard_ballot()
            t.electorate = server.Electorate(os.path.join(t.tmp, "electorate"),
                                             [law.law_id for law in ballot.values()],
                                             count=voters)
            laws_file = server.write_laws(os.path.join(t.tmp, "laws.toml"), ballot.values())
            t.server = server.Server(t.electorate, laws_file, os.path.join(t.tmp, "data"),
                                     os.path.join(t.tmp, "serve.log"), rate_limit=rate_limit)
            t.server.start()
            t.base_url = t.server.base_url
            t.registry = t.electorate.registry
            t.pool = credentials.VoterPool(t.registry)
        t.client = http.Client(t.base_url)
        t._discover_laws()
        return t

    def release(self):
        """Stops the own server with SIGTERM; returns its exit code (None when shared)."""
        code = None
        if self.server is not None:
            try:
                code = self.server.stop()
            finally:
                self.server.kill()
        if self.tmp and not keep_tmp():
            shutil.rmtree(self.tmp, ignore_errors=True)
        return code

    @contextlib.contextmanager
    def rate_limited_client(self, test):
        """A client of an instance limited to 5 votes/s: SCRUTIN_RATE_LIMITED_URL on a shared
        deployment (the test is skipped when it is not set), else an own `scrutin serve
        --rate-limit 5` on this target's electorate and ballot, stopped afterwards (it must exit 0
        on SIGTERM)."""
        if self.shared:
            url = os.environ.get("SCRUTIN_RATE_LIMITED_URL")
            if not url:
                test.skipTest("shared deployment: set SCRUTIN_RATE_LIMITED_URL to test 429")
            yield http.Client(url)
            return
        limited = server.Server(self.electorate, self.server.laws_file,
                                os.path.join(self.tmp, "data-limited"),
                                os.path.join(self.tmp, "serve-limited.log"), rate_limit=5)
        limited.start()
        try:
            yield http.Client(limited.base_url)
        finally:
            test.assertEqual(limited.stop(), 0)

    def _discover_laws(self):
        r = self.client.get("/api/v1/laws")
        if r.status != 200:
            raise server.HarnessError(f"GET /api/v1/laws answered {r}")
        now = datetime.datetime.now(datetime.timezone.utc)
        open_live = []
        for law in r.json():
            self.law_info[law["law_id"]] = law
            opens = server.parse_rfc3339(law["opens_at"])
            closes = server.parse_rfc3339(law["closes_at"])
            if closes <= now:
                self.laws.setdefault("closed", law["law_id"])
            elif opens > now:
                self.laws.setdefault("future", law["law_id"])
            elif law["results"] == "after_close":
                self.laws.setdefault("embargoed", law["law_id"])
            else:
                open_live.append(law["law_id"])
        open_live.sort()
        if open_live:
            self.laws["open_a"] = open_live[0]
        if len(open_live) > 1:
            self.laws["open_b"] = open_live[1]

    # ---- what tests need -----------------------------------------------------------------------

    def law(self, role, testcase=None):
        """The law id playing `role`; skips the test when the deployment has no such law."""
        law = self.laws.get(role)
        if law is None and testcase is not None:
            testcase.skipTest(f"the deployment has no law in role {role!r}")
        return law

    def need_registry(self, testcase):
        if self.registry is None:
            testcase.skipTest("needs eligible credentials: set SCRUTIN_VOTERS_CSV")

    def vote(self, nas, code, law_id, choice, **extra):
        payload = {"nas": nas, "code": code, "law_id": law_id, "vote": choice}
        payload.update(extra)
        return self.client.post_vote(payload)

    def status(self, request_id):
        return self.client.get(f"/api/v1/vote/{request_id}")

    def wait_final(self, request_id, timeout=20.0):
        """GET the vote's status until it is final; returns the body. Raises AssertionError when
        the status stays pending or the GET fails."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.status(request_id)
            if r.status != 200:
                raise AssertionError(f"GET /api/v1/vote/{request_id} -> {r}")
            body = r.json()
            if body.get("status") in FINAL_STATUSES:
                return body
            if body.get("status") != "pending":
                raise AssertionError(f"status not in the contract's set: {body}")
            if time.monotonic() > deadline:
                raise AssertionError(f"vote still pending after {timeout}s: {body}")
            time.sleep(0.05)

    def vote_final(self, nas, code, law_id, choice, **extra):
        """POST a vote that must be 202; returns (202 body, final status body)."""
        r = self.vote(nas, code, law_id, choice, **extra)
        if r.status != 202:
            raise AssertionError(f"expected 202 for a well-formed vote on {law_id}, got {r}")
        body = r.json()
        return body, self.wait_final(body["request_id"])

    def vote_fresh(self, law_id, choice, laws=None, nas_fmt=None, code_fmt=None):
        """Casts a first vote with a voter never used before; returns (voter, 202 body, final).
        nas_fmt/code_fmt turn the registry's form into what is typed (e.g. spaced, lower case).
        On a shared deployment a voter that turns out used (duplicate) is skipped."""
        for _ in range(50):
            voter = self.pool.take(laws or (law_id,))
            nas = nas_fmt(voter.nas) if nas_fmt else voter.nas
            code = code_fmt(voter.code) if code_fmt else voter.code
            body, final = self.vote_final(nas, code, law_id, choice)
            if final["status"] == "duplicate" and self.shared:
                continue
            if final["status"] != "accepted":
                raise AssertionError(f"a registered voter's first vote was {final}")
            return voter, body, final
        raise AssertionError("50 voters in a row were already used on the shared deployment")

    def results(self, law_id):
        r = self.client.get(f"/api/v1/results/{law_id}")
        if r.status != 200:
            raise AssertionError(f"GET /api/v1/results/{law_id} -> {r}")
        return r.json()

    def wait_results(self, law_id, expected, timeout=20.0):
        """Polls results until (oui, non) == expected (the distributed shape counts
        asynchronously); returns the last body. The caller asserts on it. A shared deployment
        under test must count each vote as it comes (--mix-size 1): with groups of k, results
        move only a group at a time (docs/ballot-secrecy.md)."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.results(law_id)
            if (body.get("oui"), body.get("non")) == tuple(expected):
                return body
            if time.monotonic() > deadline:
                return body
            time.sleep(0.05)

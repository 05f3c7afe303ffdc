#!/usr/bin/python3
"""No PII at rest (docs/architecture.md guarantee 3) in the embedded shape.

Runs every kind of request through its own `scrutin serve` (accepted, duplicate, invalid, field
errors, closed poll, oversized, wrong content type, status and results lookups), crashes it with
SIGKILL so that the SQLite WAL and shared-memory files are left as they are, scans every file of
the --data directory and the server's log; then restarts it, stops it with SIGTERM (checkpoint) and
scans again. No submitted NAS (digits, spaced, dashed, as typed) or code (upper, lower, as typed)
may appear anywhere, nor in any response body or in /metrics.

Credentials are chosen so that a chance match is negligible: codes with at least two letters
outside A-F (so no hex digest, UUID or timestamp can contain them).
"""

import json
import os
import random
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def distinctive(code):
    return sum(1 for c in code if "G" <= c <= "Z") >= 2


def forms(nas=None, code=None, typed=()):
    out = set(typed)
    if nas:
        out |= {nas, harness.spaced(nas), harness.dashed(nas)}
    if code:
        out |= {code.upper(), code.lower()}
    return {f.encode() for f in out if len(f) >= 6}


class NoPiiTest(unittest.TestCase):
    def setUp(self):
        self.passed = False
        self.tmp = tempfile.mkdtemp(prefix="scrutin-pii-")
        self.ballot = harness.standard_ballot()
        self.electorate = harness.Electorate(os.path.join(self.tmp, "electorate"),
                                             [law.law_id for law in self.ballot.values()],
                                             count=1000)
        laws = harness.write_laws(os.path.join(self.tmp, "laws.toml"), self.ballot.values())
        self.data = os.path.join(self.tmp, "data")
        self.log = os.path.join(self.tmp, "serve.log")
        self.server = harness.Server(self.electorate, laws, self.data, self.log)
        self.secrets = set()  # every byte form of every NAS and code sent
        self.bodies = []  # every response body received

    def tearDown(self):
        self.server.kill()
        if self.passed and os.environ.get("SCRUTIN_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"\nkept {self.tmp}", file=sys.stderr)

    def send(self, client, payload, content_type="application/json"):
        if isinstance(payload, dict):
            nas, code = payload.get("nas"), payload.get("code")
            self.secrets |= forms(typed=[v for v in (nas, code) if isinstance(v, str)])
        r = client.post_vote(payload, content_type=content_type)
        self.bodies.append(r.body)
        if r.status == 202:
            s = client.get(f"/api/v1/vote/{r.json()['request_id']}")
            self.bodies.append(s.body)
        return r

    def exercise(self, client, rng):
        voters = [v for v in self.electorate.registry.voters if distinctive(v.code)]
        rng.shuffle(voters)
        law_a = self.ballot["open_a"].law_id
        law_b = self.ballot["open_b"].law_id
        typings = [
            lambda v: (v.nas, v.code),
            lambda v: (harness.spaced(v.nas), v.code.lower()),
            lambda v: (harness.dashed(v.nas), v.code[:3].lower() + v.code[3:]),
        ]
        statuses = {}
        for i, v in enumerate(voters[:30]):
            self.secrets |= forms(v.nas, v.code)
            nas, code = typings[i % len(typings)](v)
            for law in (law_a, law_b, law_a):  # accepted, accepted, duplicate
                r = self.send(client, {"nas": nas, "code": code, "law_id": law, "vote": "oui"})
                statuses[r.status] = statuses.get(r.status, 0) + 1
            # Rejected shapes of the same credential.
            self.send(client, {"nas": nas, "code": code, "law_id": law_a, "vote": "peut-être"})
            self.send(client, {"nas": nas, "code": code, "law_id": law_a, "vote": "oui", "x": 1})
            self.send(client, {"nas": nas, "code": code, "law_id": self.ballot["closed"].law_id,
                               "vote": "non"})
            self.send(client, {"nas": nas, "code": code, "law_id": "Z9999-999", "vote": "non"})
            self.send(client, {"nas": harness.bad_checksum(v.nas), "code": code,
                               "law_id": law_a, "vote": "non"})
            self.send(client, json.dumps({"nas": nas, "code": code, "law_id": law_a,
                                          "vote": "oui"}), content_type="text/plain")
            self.send(client, '{"nas": "%s", "code": "%s", "pad": "%s"}' % (nas, code, " " * 5000))
            self.send(client, '{"nas": "%s", "code": "%s", ' % (nas, code))  # malformed
        # Unregistered credentials: recorded as invalid, by digest only.
        for _ in range(20):
            nas = harness.unregistered_nas(self.electorate.registry, rng)
            code = harness.random_code(rng)
            while not distinctive(code):
                code = harness.random_code(rng)
            self.secrets |= forms(nas, code)
            self.send(client, {"nas": nas, "code": code, "law_id": law_a, "vote": "non"})
        self.assertEqual(statuses.get(202), 90, statuses)
        for path in ("/metrics", "/api/v1/health", "/api/v1/laws", f"/api/v1/results/{law_a}"):
            self.bodies.append(client.get(path).body)

    def scan(self, label):
        files = []
        for root, _, names in os.walk(self.data):
            files += [os.path.join(root, n) for n in names]
        files.append(self.log)
        scanned = 0
        hits = []
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            scanned += len(data)
            for s in self.secrets:
                at = data.find(s)
                if at >= 0:
                    ctx = data[max(0, at - 40):at + len(s) + 40]
                    hits.append(f"{os.path.relpath(path, self.tmp)} @{at}: {ctx!r}")
        self.assertEqual(hits, [], f"{label}: a NAS or code is stored (match shown in context)")
        return files, scanned

    def test_no_credential_at_rest(self):
        rng = random.Random()
        self.server.start()
        client = harness.Client(self.server.base_url)
        self.exercise(client, rng)

        # Crash: whatever is in the WAL and -shm stays there.
        self.server.kill()
        files, size = self.scan("after SIGKILL")
        names = [os.path.basename(f) for f in files]
        self.assertTrue(any(os.path.getsize(f) > 0 for f in files if f != self.log),
                        f"nothing written in --data: {names}")
        self.assertGreater(os.path.getsize(self.log), 0, "the server logged nothing")
        self.assertTrue(any(n.endswith("-wal") for n in names),
                        f"expected the SQLite WAL left by the crash among {names}")
        print(f"\nscanned after SIGKILL: {names} ({size} bytes)", file=sys.stderr)

        # Restart (recovery from the WAL) and a clean stop.
        self.server.start()
        self.exercise_after_restart(client)
        self.assertEqual(self.server.stop(), 0)
        self.scan("after restart and SIGTERM")

        for body in self.bodies:
            for s in self.secrets:
                self.assertNotIn(s, body, f"a response echoes a credential: {body[:200]!r}")
        self.passed = True

    def exercise_after_restart(self, client):
        client = harness.Client(self.server.base_url)
        law_a = self.ballot["open_a"].law_id
        for v in [v for v in self.electorate.registry.voters if distinctive(v.code)][:40]:
            self.secrets |= forms(v.nas, v.code)
            self.send(client, {"nas": v.nas, "code": v.code.lower(), "law_id": law_a,
                               "vote": "non"})
        self.bodies.append(client.get("/metrics").body)


if __name__ == "__main__":
    unittest.main(verbosity=2)

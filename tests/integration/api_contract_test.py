#!/usr/bin/python3
"""Black-box suite of the HTTP API contract (docs/openapi.yaml), independent of the shape.

With SCRUTIN_BASE_URL set it tests that deployment (the distributed shape reuses this file
unchanged); SCRUTIN_VOTERS_CSV then gives its registry (tests needing eligible voters skip without
it), SCRUTIN_METRICS_URLS (comma-separated) the other processes' /metrics, and
SCRUTIN_RATE_LIMITED_URL a deployment limited to a few requests per second. Without
SCRUTIN_BASE_URL it generates an electorate and starts its own `scrutin serve` (SCRUTIN_BIN, or the
newest build/*/src/apps/scrutin).

Against a shared deployment result checks compare deltas, so nothing else may vote on the tested
laws during the run.

Run: /usr/bin/python3 tests/integration/api_contract_test.py [-v] [Class.test_name]
"""

import collections
import datetime
import json
import os
import random
import re
import socket
import sys
import threading
import time
import unittest
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

T = None  # the harness.Target shared by every test of this module

# (law_id, "oui"|"non") -> votes this run saw accepted; the final class compares it with results.
LEDGER = collections.Counter()
LEDGER_LOCK = threading.Lock()

CHOICE_ALIASES = {"oui": "oui", "yes": "oui", "non": "non", "no": "non"}


def setUpModule():
    global T
    T = harness.Target.acquire("api")


def tearDownModule():
    code = T.release()
    if code not in (None, 0):
        raise AssertionError(f"scrutin serve exited {code} after SIGTERM (contract: 0)")


def record(law_id, choice, final):
    if final["status"] == "accepted":
        with LEDGER_LOCK:
            LEDGER[(law_id, CHOICE_ALIASES[choice.lower()])] += 1


def cast(nas, code, law_id, choice, **extra):
    body, final = T.vote_final(nas, code, law_id, choice, **extra)
    record(law_id, choice, final)
    return body, final


def cast_fresh(law_id, choice, **kw):
    voter, body, final = T.vote_fresh(law_id, choice, **kw)
    record(law_id, choice, final)
    return voter, body, final


def secrets_of(nas=None, code=None):
    """Every byte form in which a NAS or code could be echoed."""
    out = set()
    if nas:
        out.add(nas)
        digits = re.sub(r"[ -]", "", nas)
        if len(digits) >= 6:
            out.add(digits)
            if len(digits) == 9:
                out.update({harness.spaced(digits), harness.dashed(digits)})
    if code:
        out.update({code, code.upper(), code.lower()})
    return {s for s in out if len(s) >= 6}


class ContractCase(unittest.TestCase):
    maxDiff = None

    def assertErrorBody(self, r, status, error=None, nas=None, code=None):
        """r is `status` with an API error body (error + message), echoing no secret."""
        self.assertEqual(r.status, status, r)
        self.assertIn("json", (r.header("Content-Type") or "").lower(), r)
        body = r.json()
        self.assertIsInstance(body, dict, r)
        self.assertIsInstance(body.get("error"), str, r)
        self.assertRegex(body["error"], harness.SNAKE_RE)
        self.assertIsInstance(body.get("message"), str, r)
        self.assertTrue(body["message"].strip(), r)
        if error is not None:
            self.assertEqual(body["error"], error, r)
        for s in secrets_of(nas, code):
            self.assertNotIn(s.encode(), r.body, f"error body echoes a submitted credential: {r}")
        return body

    def assertFieldErrors(self, payload, fields, content_type="application/json"):
        """POSTing payload gives 400 invalid_request with exactly `fields`."""
        r = T.client.post_vote(payload, content_type=content_type)
        nas = payload.get("nas") if isinstance(payload, dict) else None
        code = payload.get("code") if isinstance(payload, dict) else None
        body = self.assertErrorBody(r, 400, "invalid_request",
                                    nas=nas if isinstance(nas, str) else None,
                                    code=code if isinstance(code, str) else None)
        self.assertEqual(body.get("fields"), fields, f"payload {payload!r}")
        return body

    def assertStillFresh(self, voter, law_id, choice="oui"):
        """A rejected request changed nothing: the voter's first real vote is accepted.
        On a shared deployment an earlier run may have used the voter, which also reads as
        `duplicate`: there the check is only meaningful on a fresh deployment."""
        body, final = cast(voter.nas, voter.code, law_id, choice)
        if T.shared and final["status"] == "duplicate":
            return
        self.assertEqual(final["status"], "accepted",
                         "a vote rejected earlier (4xx) was recorded for this credential")


class A1AcceptedVoteTest(ContractCase):
    def setUp(self):
        T.need_registry(self)
        self.law = T.law("open_a", self)

    def test_accepted_vote_body_location_and_status(self):
        # On a shared deployment a voter may have been used by an earlier run: try others.
        for _ in range(10 if T.shared else 1):
            body, final = self.check_vote_answer()
            if final["status"] != "duplicate" or not T.shared:
                break
        record(self.law, "oui", final)
        self.assertEqual(final["request_id"], body["request_id"])
        self.assertEqual(final["status"], "accepted", final)
        self.assertEqual(final["law_id"], self.law)
        self.assertEqual(final["attempt_count"], 1, final)
        self.assertIsInstance(final.get("receipt"), str, final)
        self.assertGreaterEqual(len(final["receipt"]), 8, final)
        if body["status"] != "pending":
            self.assertEqual(body["status"], final["status"], "202 status differs from GET")
        # The status stays readable and unchanged.
        again = T.status(body["request_id"])
        self.assertEqual(again.status, 200)
        self.assertEqual(again.json(), final)

    def check_vote_answer(self):
        """A registered voter's vote: checks the 202 answer, returns (its body, final status)."""
        voter = T.pool.take((self.law,))
        r = T.vote(voter.nas, voter.code, self.law, "oui")
        self.assertEqual(r.status, 202, r)
        self.assertIn("application/json", (r.header("Content-Type") or "").lower())
        body = r.json()
        self.assertLessEqual({"request_id", "status", "status_url"}, set(body), body)
        self.assertRegex(body["request_id"], harness.UUID_RE)
        self.assertIn(body["status"], ("pending",) + harness.FINAL_STATUSES)
        self.assertEqual(body["status_url"], f"/api/v1/vote/{body['request_id']}")
        location = r.header("Location") or ""
        self.assertTrue(location.endswith(body["status_url"]), f"Location: {location!r}")
        for s in secrets_of(voter.nas, voter.code):
            self.assertNotIn(s.encode(), r.body)

        return body, T.wait_final(body["request_id"])

    def test_receipts_are_distinct(self):
        receipts = set()
        for _ in range(5):
            _, _, final = cast_fresh(self.law, "non")
            receipts.add(final["receipt"])
        self.assertEqual(len(receipts), 5, receipts)

    def test_duplicate_counts_attempts(self):
        voter, first, _ = cast_fresh(self.law, "oui")
        for expected_count, choice in ((2, "oui"), (3, "non"), (4, "oui")):
            body, final = cast(voter.nas, voter.code, self.law, choice)
            self.assertNotEqual(body["request_id"], first["request_id"])
            self.assertEqual(final["status"], "duplicate", final)
            self.assertEqual(final["attempt_count"], expected_count, final)
            self.assertEqual(final["law_id"], self.law)
            self.assertIsNone(final.get("receipt"), "a duplicate has no ballot, so no receipt")
        # The first vote's status is untouched by the duplicates.
        self.assertEqual(T.wait_final(first["request_id"])["status"], "accepted")

    def test_credential_is_per_law(self):
        law_b = T.law("open_b", self)
        for _ in range(10 if T.shared else 1):
            voter, _, _ = cast_fresh(self.law, "oui", laws=(self.law, law_b))
            _, final_b = cast(voter.nas, voter.code, law_b, "non")
            if not (T.shared and final_b["status"] == "duplicate"):
                break  # else an earlier run used this voter on law B only: try another
        self.assertEqual(final_b["status"], "accepted", "a vote on law A used up law B")
        _, dup_b = cast(voter.nas, voter.code, law_b, "non")
        self.assertEqual((dup_b["status"], dup_b["attempt_count"]), ("duplicate", 2))
        _, dup_a = cast(voter.nas, voter.code, self.law, "oui")
        self.assertEqual((dup_a["status"], dup_a["attempt_count"]), ("duplicate", 2))

    def test_input_normalisation(self):
        cases = [
            (harness.spaced, str.lower, "OUI"),
            (harness.dashed, str.lower, "Non"),
            (lambda n: f" {n[:3]}-{n[3:6]} {n[6:]} ", lambda c: c[:3].lower() + c[3:], "yes"),
            (lambda n: n, str.upper, "NO"),
        ]
        for nas_fmt, code_fmt, choice in cases:
            with self.subTest(choice=choice):
                voter, _, final = cast_fresh(self.law, choice, nas_fmt=nas_fmt, code_fmt=code_fmt)
                self.assertEqual(final["status"], "accepted")
                # The canonical form is the same credential.
                _, dup = cast(voter.nas, voter.code, self.law, "oui")
                self.assertEqual((dup["status"], dup["attempt_count"]), ("duplicate", 2))

    def test_unregistered_credential_is_invalid(self):
        rng = random.Random()
        nas, code = harness.unregistered_credential(T.registry, rng)
        for _ in range(2):
            body, final = cast(nas, code, self.law, "oui")
            self.assertEqual(final["status"], "invalid", "an unregistered credential is invalid, "
                             "also when it tries again (never duplicate)")
            self.assertIsNone(final.get("receipt"))
        # A registered NAS with another voter's code is not eligible either, and does not use up
        # the real credential.
        voter, other = T.pool.take((self.law,)), T.pool.take((self.law,))
        _, final = cast(voter.nas, other.code, self.law, "non")
        self.assertEqual(final["status"], "invalid")
        self.assertStillFresh(voter, self.law, "non")

    def test_vote_on_embargoed_open_law_is_accepted(self):
        law = T.law("embargoed", self)
        _, _, final = cast_fresh(law, "oui")
        self.assertEqual(final["status"], "accepted")

    def test_content_type_with_charset_is_json(self):
        voter = T.pool.take((self.law,))
        payload = {"nas": voter.nas, "code": voter.code, "law_id": self.law, "vote": "non"}
        r = T.client.post_vote(payload, content_type="application/json; charset=utf-8")
        self.assertEqual(r.status, 202, r)
        final = T.wait_final(r.json()["request_id"])
        record(self.law, "non", final)
        if not T.shared:
            self.assertEqual(final["status"], "accepted")

    def test_body_of_exactly_4096_bytes_is_accepted(self):
        voter = T.pool.take((self.law,))
        raw = json.dumps({"nas": voter.nas, "code": voter.code, "law_id": self.law, "vote": "oui"})
        raw = raw[:-1] + " " * (4096 - len(raw)) + "}"
        self.assertEqual(len(raw.encode()), 4096)
        r = T.client.post_vote(raw)
        self.assertEqual(r.status, 202, "docs/openapi.yaml: a body of at most 4 KiB is accepted")
        final = T.wait_final(r.json()["request_id"])
        record(self.law, "oui", final)


class A2FieldErrorTest(ContractCase):
    """400 invalid_request with one code per offending field, and nothing recorded."""

    @classmethod
    def setUpClass(cls):
        cls.law = T.law("open_a")
        cls.voter = T.pool.take((cls.law,)) if T.pool else None
        rng = random.Random()
        cls.nas = cls.voter.nas if cls.voter else harness.unregistered_nas(
            harness.Registry([]), rng)
        cls.code = cls.voter.code if cls.voter else harness.random_code(rng)

    def payload(self, **changes):
        p = {"nas": self.nas, "code": self.code, "law_id": self.law, "vote": "oui"}
        for k, v in changes.items():
            if v is _ABSENT:
                p.pop(k, None)
            else:
                p[k] = v
        return p

    def test_missing(self):
        for field in ("nas", "code", "law_id", "vote"):
            with self.subTest(field=field):
                self.assertFieldErrors(self.payload(**{field: _ABSENT}), {field: "missing"})
        self.assertFieldErrors({}, {f: "missing" for f in ("nas", "code", "law_id", "vote")})

    def test_nas_format(self):
        for bad in ("12345678", "1234567890", "04645428a", "046 454 28", "046_454_286",
                    "046.454.286", "", "٠٤٦٤٥٤٢٨٦", "046454286046454286"):
            with self.subTest(nas=bad):
                self.assertFieldErrors(self.payload(nas=bad), {"nas": "format"})

    def test_nas_checksum(self):
        bad = harness.bad_checksum(self.nas)
        for typed in (bad, harness.spaced(bad), harness.dashed(bad)):
            with self.subTest(nas=typed):
                self.assertFieldErrors(self.payload(nas=typed), {"nas": "checksum"})

    def test_code_format(self):
        for bad in ("ABC12", "ABC1234", "ABC-12", "ABC 12", "ABC12!", "", "ÀBC123", "ABC12\u0000"):
            with self.subTest(code=bad):
                self.assertFieldErrors(self.payload(code=bad), {"code": "format"})

    def test_law_id(self):
        for bad in ("nope", "L2026-01", "l2026-001", "L2026_001", ""):
            with self.subTest(law_id=bad):
                self.assertFieldErrors(self.payload(law_id=bad), {"law_id": "format"})
        unknown = next(f"Z{n:04d}-{n % 1000:03d}" for n in range(9999, 0, -1)
                       if f"Z{n:04d}-{n % 1000:03d}" not in T.law_info)
        self.assertFieldErrors(self.payload(law_id=unknown), {"law_id": "unknown_law"})

    def test_vote_format(self):
        for bad in ("maybe", "", "ou", "oui ", "blanc", "1"):
            with self.subTest(vote=bad):
                self.assertFieldErrors(self.payload(vote=bad), {"vote": "format"})

    def test_unknown_fields(self):
        self.assertFieldErrors(self.payload(comment="hi"), {"comment": "unknown_field"})
        self.assertFieldErrors(self.payload(Nas="x", choice="oui"),
                               {"Nas": "unknown_field", "choice": "unknown_field"})

    def test_several_errors_at_once(self):
        bad = harness.bad_checksum(self.nas)
        self.assertFieldErrors(
            {"nas": bad, "code": "abc", "law_id": "nope", "vote": "peut-être", "x": 1},
            {"nas": "checksum", "code": "format", "law_id": "format", "vote": "format",
             "x": "unknown_field"})
        self.assertFieldErrors({"nas": "12", "vote": "oui"},
                               {"nas": "format", "code": "missing", "law_id": "missing"})

    def test_non_string_values(self):
        for field, value in (("nas", int(self.nas)), ("nas", [self.nas]), ("code", 123456),
                             ("code", {"v": self.code}), ("law_id", True), ("vote", 1),
                             ("vote", ["oui"])):
            with self.subTest(field=field, value=value):
                self.assertFieldErrors(self.payload(**{field: value}), {field: "format"})
        # null is a value but not a string: format (or missing, the contract does not say).
        r = T.client.post_vote(self.payload(vote=None))
        body = self.assertErrorBody(r, 400, "invalid_request")
        self.assertIn(body.get("fields"), ({"vote": "format"}, {"vote": "missing"}))

    def test_malformed_json(self):
        raw = json.dumps(self.payload())
        for bad in (raw[:-1], raw + "}", "{nas: 1}", "{'nas': '1'}", "", " ", "\xff\xfe",
                    raw.replace(":", "=", 1), '{"nas": "1",}'):
            with self.subTest(body=bad[:20]):
                r = T.client.post_vote(bad.encode("latin-1") if bad == "\xff\xfe" else bad)
                self.assertErrorBody(r, 400, nas=self.nas, code=self.code)

    def test_json_that_is_not_an_object(self):
        for bad in ("[]", json.dumps([self.payload()]), '"oui"', "42", "null", "true"):
            with self.subTest(body=bad[:20]):
                self.assertErrorBody(T.client.post_vote(bad), 400, nas=self.nas, code=self.code)

    def test_zz_nothing_was_recorded(self):
        """Runs last in this class: every 400 above used this voter, none may have counted."""
        T.need_registry(self)
        self.assertStillFresh(self.voter, self.law)


_ABSENT = object()


class A3PollWindowTest(ContractCase):
    def test_closed_and_not_yet_open(self):
        T.need_registry(self)
        for role in ("closed", "future"):
            law = T.law(role)
            if law is None:
                continue
            with self.subTest(role=role):
                before = T.client.get(f"/api/v1/results/{law}")
                voter = T.pool.take((law,))
                for nas in (voter.nas, harness.spaced(voter.nas)):
                    r = T.vote(nas, voter.code, law, "oui")
                    body = self.assertErrorBody(r, 403, "poll_closed", nas=voter.nas,
                                                code=voter.code)
                    self.assertNotIn("request_id", body)
                after = T.client.get(f"/api/v1/results/{law}")
                self.assertEqual(before.status, after.status)
                if before.status == 200:
                    self.assertEqual((before.json()["oui"], before.json()["non"]),
                                     (after.json()["oui"], after.json()["non"]))
        if T.law("closed") is None and T.law("future") is None:
            self.skipTest("no closed or future law on this deployment")

    def test_closed_law_results_are_final(self):
        law = T.law("closed", self)
        body = T.results(law)
        self.assertIs(body["final"], True, body)
        if not T.shared:
            self.assertEqual((body["oui"], body["non"], body["total"]), (0, 0, 0))


class A4TransportTest(ContractCase):
    """413, 415 and keep-alive."""

    def setUp(self):
        self.law = T.law("open_a", self)

    def valid_payload(self):
        if T.pool:
            v = T.pool.take((self.law,))
            return v, {"nas": v.nas, "code": v.code, "law_id": self.law, "vote": "oui"}
        nas, code = harness.unregistered_credential(harness.Registry([]), random.Random())
        return None, {"nas": nas, "code": code, "law_id": self.law, "vote": "oui"}

    def test_body_too_large(self):
        voter, payload = self.valid_payload()
        raw = json.dumps(payload)
        for size in (4097, 5000, 64 * 1024, 1024 * 1024):
            with self.subTest(size=size):
                padded = raw[:-1] + " " * (size - len(raw)) + "}"
                r = self.post_expecting_close(padded)
                self.assertErrorBody(r, 413, nas=payload["nas"], code=payload["code"])
        if voter:
            self.assertStillFresh(voter, self.law)

    def post_expecting_close(self, body, attempts=3):
        """POSTs a body the server refuses before reading it. The server may close the
        connection afterwards; if it closes without draining what the client still sends, the
        kernel resets the connection and the client can lose the answer. Tolerate that a couple
        of times, but a server that never lets the client read its 413 fails."""
        last = None
        for _ in range(attempts):
            try:
                return T.client.post_vote(body)
            except (ConnectionResetError, BrokenPipeError) as e:
                last = e
                time.sleep(0.1)
        self.fail(f"{attempts} times the connection was reset instead of answering ({last}): "
                  "the server should answer, then drain or half-close (lingering close)")

    def raw_exchange(self, request: bytes, what, attempts=3):
        """Sends raw bytes, returns the head of the answer (status line and headers). Resets are
        retried like in post_expecting_close; silence for 10 s fails."""
        last = None
        for _ in range(attempts):
            data = b""
            try:
                with T.client.raw_socket(timeout=10) as s:
                    s.sendall(request)
                    while b"\r\n\r\n" not in data:
                        c = s.recv(4096)
                        if not c:
                            break
                        data += c
                return data
            except socket.timeout:
                self.fail(f"no answer to {what} within 10 s")
            except (ConnectionResetError, BrokenPipeError) as e:
                last = e
                time.sleep(0.1)
        self.fail(f"{attempts} times the connection was reset instead of answering {what} ({last})")

    def test_declared_length_too_large_is_refused_without_the_body(self):
        """A Content-Length over the limit is answered from the headers: the server must not
        wait for (or buffer) 100 MB first."""
        head = self.raw_exchange(
            b"POST /api/v1/vote HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
            b"\r\nContent-Length: 100000000\r\n\r\n{\"nas\":", "a 100 MB Content-Length")
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head[:100])

    def test_chunked_body_too_large(self):
        chunk = b" " * 1000
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
        head = self.raw_exchange(
            b"POST /api/v1/vote HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
            b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body, "an 8 KB chunked body")
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head[:100])

    def test_wrong_content_type(self):
        voter, payload = self.valid_payload()
        raw = json.dumps(payload)
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                      "application/jsonx", None):
            with self.subTest(content_type=ctype):
                r = T.client.request("POST", "/api/v1/vote", body=raw, content_type=ctype)
                self.assertErrorBody(r, 415, nas=payload["nas"], code=payload["code"])
        if voter:
            self.assertStillFresh(voter, self.law)

    def test_keep_alive_across_statuses(self):
        T.need_registry(self)
        conn = T.client.keep_alive()
        try:
            seen = collections.Counter()
            for i in range(6):
                for method, path, body in (
                        ("GET", "/api/v1/health", None),
                        ("GET", "/api/v1/laws", None),
                        ("GET", f"/api/v1/vote/{uuid.uuid4()}", None),
                        ("POST", "/api/v1/vote", {"nas": "1"}),
                        ("GET", f"/api/v1/results/{self.law}", None)):
                    r = conn.request(method, path, body)
                    seen[r.status] += 1
                voter = T.pool.take((self.law,))
                r = conn.request("POST", "/api/v1/vote", {"nas": voter.nas, "code": voter.code,
                                                          "law_id": self.law, "vote": "non"})
                self.assertEqual(r.status, 202, r)
                record(self.law, "non", T.wait_final(r.json()["request_id"]))
                seen[r.status] += 1
            self.assertEqual(seen, {200: 18, 404: 6, 400: 6, 202: 6})
            self.assertEqual(conn.reconnects, 0, "the server closed a keep-alive connection")
            self.assertFalse(conn.closed_by_server())
        finally:
            conn.close()

    def test_pipelined_requests(self):
        with T.client.raw_socket(timeout=10) as s:
            req = b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n"
            s.sendall(req * 3)
            data = b""
            deadline = time.monotonic() + 10
            while data.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
                c = s.recv(65536)
                if not c:
                    break
                data += c
        self.assertEqual(data.count(b"HTTP/1.1 200"), 3, "pipelined requests were not all answered")


class A5StatusLookupTest(ContractCase):
    def test_unknown_request_id(self):
        self.assertErrorBody(T.status(str(uuid.uuid4())), 404)

    def test_malformed_request_id(self):
        for bad in ("not-a-uuid", "12345", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
                    str(uuid.uuid4()) + "0", "%00"):
            with self.subTest(id=bad):
                self.assertErrorBody(T.status(bad), 404)


class A6ResultsTest(ContractCase):
    def test_shape(self):
        law = T.law("open_a", self)
        body = T.results(law)
        self.assertLessEqual({"law_id", "oui", "non", "total", "updated_at", "final"}, set(body))
        self.assertEqual(body["law_id"], law)
        for k in ("oui", "non", "total"):
            self.assertIsInstance(body[k], int)
            self.assertGreaterEqual(body[k], 0)
        self.assertEqual(body["total"], body["oui"] + body["non"])
        harness.parse_rfc3339(body["updated_at"])
        self.assertIs(body["final"], False, "an open law's results are not final")

    def test_counts_follow_accepted_votes(self):
        T.need_registry(self)
        law_a, law_b = T.law("open_a", self), T.law("open_b", self)
        before = {law: T.results(law) for law in (law_a, law_b)}
        plan = {law_a: ["oui", "OUI", "yes", "non", "Non"], law_b: ["oui", "no", "NON", "non"]}
        delta = {law: collections.Counter() for law in plan}
        for law, choices in plan.items():
            for choice in choices:
                voter, _, _ = cast_fresh(law, choice)
                delta[law][CHOICE_ALIASES[choice.lower()]] += 1
                # A duplicate with the other choice and an invalid vote change nothing.
                cast(voter.nas, voter.code, law, "non" if choice.lower() in ("oui", "yes")
                     else "oui")
            nas, code = harness.unregistered_credential(T.registry, random.Random())
            cast(nas, code, law, "oui")
        for law in plan:
            want = (before[law]["oui"] + delta[law]["oui"], before[law]["non"] + delta[law]["non"])
            got = T.wait_results(law, want)
            self.assertEqual((got["oui"], got["non"]), want, f"results of {law}")
            self.assertEqual(got["total"], sum(want))
            self.assertGreaterEqual(harness.parse_rfc3339(got["updated_at"]),
                                    harness.parse_rfc3339(before[law]["updated_at"]))

    def test_unknown_law(self):
        for bad in ("Z9999-999", "nope", "L2026-00", "%2e%2e"):
            if bad in T.law_info:
                continue
            with self.subTest(law=bad):
                self.assertErrorBody(T.client.get(f"/api/v1/results/{bad}"), 404)

    def test_embargoed_until_close(self):
        law = T.law("embargoed", self)
        r = T.client.get(f"/api/v1/results/{law}")
        body = self.assertErrorBody(r, 403, "results_embargoed")
        self.assertNotIn("oui", body)
        self.assertNotIn("total", body)
        available = harness.parse_rfc3339(body["available_at"])
        self.assertEqual(available, harness.parse_rfc3339(T.law_info[law]["closes_at"]))

    def test_embargo_not_bypassed_through_metrics(self):
        """/metrics must not publish an embargoed law's counts before its close either."""
        law = T.law("embargoed", self)
        if T.registry is not None:
            cast_fresh(law, "non")
        text = T.client.get("/metrics").text()
        leaks = [(labels, value) for name, labels, value in parse_exposition(self, text)
                 if name == "votes_by_law" and labels.get("law_id") == law and value != 0]
        self.assertEqual(leaks, [], "votes_by_law shows the count of an embargoed law")


class A7LawsHealthMetricsTest(ContractCase):
    def test_laws(self):
        r = T.client.get("/api/v1/laws")
        self.assertEqual(r.status, 200)
        self.assertIn("json", r.header("Content-Type", "").lower())
        laws = r.json()
        self.assertIsInstance(laws, list)
        self.assertTrue(laws)
        for law in laws:
            self.assertLessEqual({"law_id", "title", "opens_at", "closes_at", "results"},
                                 set(law), law)
            self.assertRegex(law["law_id"], r"^[A-Z][0-9]{4}-[0-9]{3}$")
            self.assertEqual(set(law["title"]), {"fr", "en"})
            self.assertTrue(all(isinstance(v, str) and v for v in law["title"].values()))
            self.assertLess(harness.parse_rfc3339(law["opens_at"]),
                            harness.parse_rfc3339(law["closes_at"]))
            self.assertIn(law["results"], ("live", "after_close"))
        self.assertEqual(len({law["law_id"] for law in laws}), len(laws))
        if not T.shared:
            want = harness.standard_ballot()
            by_id = {law["law_id"]: law for law in laws}
            self.assertEqual(set(by_id), {spec.law_id for spec in want.values()})
            for spec in want.values():
                got = by_id[spec.law_id]
                self.assertEqual(got["title"], {"fr": spec.title_fr, "en": spec.title_en})
                self.assertEqual(got["results"], spec.results)
                # Windows are relative to the harness's "now", which moved: compare lengths.
                length = (harness.parse_rfc3339(got["closes_at"])
                          - harness.parse_rfc3339(got["opens_at"]))
                self.assertEqual(length, spec.closes_at - spec.opens_at)

    def test_health(self):
        r = T.client.get("/api/v1/health")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(body.get("status"), "ok", body)
        self.assertIn(body.get("shape"), ("embedded", "distributed"))
        self.assertIsInstance(body.get("checks"), dict)
        self.assertTrue(body["checks"], "health lists the checks it made")
        for name, value in body["checks"].items():
            self.assertEqual(value, "ok", f"check {name}")
        if not T.shared:
            self.assertEqual(body["shape"], "embedded")

    def test_metrics(self):
        # Make sure every status has been seen at least once.
        if T.registry is not None:
            law = T.law("open_a", self)
            voter, _, _ = cast_fresh(law, "oui")
            cast(voter.nas, voter.code, law, "oui")
            cast(*harness.unregistered_credential(T.registry, random.Random()), law, "non")
        shape = T.client.get("/api/v1/health").json()["shape"]
        urls = [T.base_url + "/metrics"] + [
            u.strip() for u in os.environ.get("SCRUTIN_METRICS_URLS", "").split(",") if u.strip()]
        samples = []
        for url in urls:
            c = harness.Client(url.rsplit("/metrics", 1)[0])
            r = c.get("/metrics")
            self.assertEqual(r.status, 200, url)
            self.assertTrue(r.header("Content-Type", "").startswith("text/plain"), url)
            samples += parse_exposition(self, r.text())
        names = {name for name, _, _ in samples}
        required = ["votes_submitted_total", "votes_validated_total", "votes_per_second",
                    "validation_latency_seconds_bucket", "validation_latency_seconds_sum",
                    "validation_latency_seconds_count", "api_request_duration_seconds_bucket",
                    "api_request_duration_seconds_sum", "api_request_duration_seconds_count",
                    "duplicate_attempts_total", "votes_by_law"]
        if shape == "distributed":
            required += ["rabbitmq_queue_depth", "redis_memory_used_bytes",
                         "postgres_connections"]
        else:
            # The embedded writer's own series (README, "Metrics").
            required += ["scrutin_store_commit_seconds_count", "scrutin_store_batch_votes_count",
                         "scrutin_store_sync_seconds_count", "scrutin_store_sync_votes_count",
                         "scrutin_intake_queue_depth"]
        missing = [n for n in required if n not in names]
        self.assertEqual(missing, [], f"/metrics lacks required series (have {sorted(names)})")
        if T.registry is not None:
            statuses = {labels.get("status") for name, labels, _ in samples
                        if name == "votes_validated_total"}
            self.assertLessEqual({"accepted", "duplicate", "invalid"}, statuses)
        for name, labels, _ in samples:
            if name == "votes_by_law":
                self.assertIn("law_id", labels)
                self.assertIn(labels.get("choice"), ("oui", "non"))
        for name, labels, value in samples:
            if name.endswith("_bucket"):
                self.assertIn("le", labels)


SAMPLE_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})?'
    r' (\S+)( -?[0-9]+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def parse_exposition(tc, text):
    """[(name, {label: value}, float)] from Prometheus text format; fails on a malformed line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        tc.assertIsNotNone(m, f"malformed exposition line: {line!r}")
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


class A8ErrorRoutesTest(ContractCase):
    def test_unknown_route_and_method(self):
        self.assertErrorBody(T.client.get("/api/v1/nothing-here"), 404)
        r = T.client.get("/api/v1/vote")
        self.assertIn(r.status, (404, 405), r)
        self.assertErrorBody(r, r.status)
        r = T.client.request("DELETE", f"/api/v1/results/{T.law('open_a', self)}")
        self.assertIn(r.status, (404, 405), r)
        self.assertErrorBody(r, r.status)

    def test_idle_and_half_sent_connections_do_not_block_others(self):
        socks = []
        try:
            for i in range(150):
                s = T.client.raw_socket(timeout=5)
                if i % 3 == 0:
                    s.sendall(b"POST /api/v1/vote HTTP/1.1\r\nHost: t\r\nContent-Le")
                elif i % 3 == 1:
                    s.sendall(b"POST /api/v1/vote HTTP/1.1\r\nHost: t\r\n"
                              b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
                socks.append(s)
            start = time.monotonic()
            for _ in range(10):
                self.assertEqual(T.client.get("/api/v1/health", timeout=5).status, 200)
                r = T.client.post_vote({"nas": "1"}, timeout=5)
                self.assertEqual(r.status, 400)
            self.assertLess(time.monotonic() - start, 5.0, "slow clients slowed everyone down")
        finally:
            for s in socks:
                s.close()

    def test_server_keeps_serving_after_garbage(self):
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"POST /api/v1/vote HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                     b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"):
            try:
                with T.client.raw_socket(timeout=5) as s:
                    s.sendall(junk)
                    s.shutdown(socket.SHUT_WR)
                    try:
                        s.recv(4096)
                    except OSError:
                        pass
            except OSError:
                pass
            self.assertEqual(T.client.get("/api/v1/health").status, 200)


class A9RateLimitTest(ContractCase):
    """429 with Retry-After when over the per-instance rate (own server started with
    --rate-limit 5, or SCRUTIN_RATE_LIMITED_URL)."""

    def test_rate_limited(self):
        with T.rate_limited_client(self) as client:
            law = T.law("open_a", self)
            rng = random.Random()
            got = collections.Counter()
            limited = None
            for _ in range(40):
                nas, code = harness.unregistered_credential(T.registry or harness.Registry([]),
                                                            rng)
                r = client.post_vote({"nas": nas, "code": code, "law_id": law, "vote": "oui"})
                got[r.status] += 1
                if r.status == 429:
                    limited = r
                    self.assertErrorBody(r, 429, nas=nas, code=code)
            self.assertIsNotNone(limited, f"40 quick requests at --rate-limit 5 gave {got}")
            self.assertEqual(set(got) - {202, 429}, set(), got)
            retry = limited.header("Retry-After")
            self.assertIsNotNone(retry, "429 without Retry-After")
            self.assertRegex(retry, r"^[0-9]+$", "Retry-After in seconds")
            self.assertLessEqual(int(retry), 60)
            time.sleep(max(1, int(retry)) + 0.2)
            r = client.get("/api/v1/health")
            self.assertEqual(r.status, 200, "still limited after waiting Retry-After")


class ZzFinalTotalsTest(ContractCase):
    """Runs last (unittest orders classes by name): on our own fresh server the published results
    equal the votes this run saw accepted, per law and choice, and so do the metrics."""

    def test_results_equal_every_accepted_vote(self):
        if T.shared:
            self.skipTest("absolute totals need a fresh server (deltas are checked above)")
        for role in ("open_a", "open_b", "closed"):
            law = T.law(role)
            want = (LEDGER[(law, "oui")], LEDGER[(law, "non")])
            got = T.wait_results(law, want)
            self.assertEqual((got["oui"], got["non"], got["total"]), want + (sum(want),),
                             f"results of {law} ({role})")
        by_law = {}
        for name, labels, value in parse_exposition(self, T.client.get("/metrics").text()):
            if name == "votes_by_law":
                by_law[(labels["law_id"], labels["choice"])] = value
        embargoed = T.law("embargoed")
        for (law, choice), n in LEDGER.items():
            if law == embargoed:
                continue  # whether /metrics may show an embargoed count is not in the contract
            self.assertEqual(by_law.get((law, choice), 0), n, f"votes_by_law{{{law},{choice}}}")


if __name__ == "__main__":
    unittest.main(verbosity=2)

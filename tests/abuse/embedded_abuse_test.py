#!/usr/bin/python3
"""The embedded shape's front door under attack (README "Limits at the front door";
docs/architecture.md "Threat model": an attacker with one machine and no credentials must not deny
service to other voters nor burn the server's CPU).

`scrutin serve` runs with its default limits (no --rate-limit or other limit flag) and a soft file
limit of 1024, as under a systemd unit. Each test is one attack from 127.0.0.1 while an honest
voter on 127.0.0.2 casts ~10 votes a second (fresh credential, fresh connection each); it passes
when the honest voter gets >= 99% of its votes answered 202 within 1 s, the server is still
healthy afterwards, every 429 says which allowance ran out (`scope`) with a Retry-After, and for
the chunk-extension and trailer bombs the server used < 50% of one core over the attack.

  1  8 keep-alive connections pipelining `{}` POSTs as fast as the server answers
  2a slowloris: `slowhttptest -H -c 4000 -i 10 -r 500 -l 20` against GET /api/v1/laws
  2b 5000 idle TCP connections held open
  3a chunk-extension bomb: `Transfer-Encoding: chunked`, `1;` and 32 KiB of extension (one
     connection at once, one slowly), again and again
  3b trailer bomb: an empty chunked body, then 32 KiB of trailer fields
  4  `Transfer-Encoding` other than a final `chunked` (gzip, chunked, identity / chunked, gzip /
     identity): 400, the connection closed, the bytes after it never answered as a request
  5  malformed HTTP (garbage, bad request lines and headers) on many short connections
  6a online guessing: one NAS, many codes -> 429 scope credential after the allowance
  6b a GET flood of /api/v1/results/{law} and /api/v1/laws

Each attack prints one `ABUSE-FIGURES {json}` line (honest success rate and p99, server CPU % of
one core, the attacker's answers by status) for bench/RESULTS.md. Set SCRUTIN_KEEP_TMP=1 to keep
the electorate and the server logs.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abuse_kit as kit  # noqa: E402
from abuse_kit import harness  # noqa: E402

SHAPE = "embedded"
HONEST_SECONDS = 10.0  # 100 honest votes per attack
WARMUP = 2.0  # the attack runs alone this long before the honest voter starts
BOMB_BYTES = 32 * 1024  # "13+ KB" of chunk extension or trailer: above any sane bound
BOMB_ANSWER_WITHIN = 5.0  # a bomb must be answered (4xx) or closed this soon after it is sent
IDLE_CONNECTIONS = 5000
# serve's default per-credential allowance (--credential-attempts, --credential-window).
DEFAULT_CREDENTIAL_ATTEMPTS = 60


class EmbeddedAbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.own_file_limit = kit.raise_own_file_limit()
        cls.tmp = tempfile.mkdtemp(prefix="scrutin-abuse-")
        cls.keep = False
        ballot = harness.standard_ballot()
        cls.law = ballot["open_a"].law_id
        cls.electorate = harness.Electorate(os.path.join(cls.tmp, "electorate"), [cls.law],
                                            count=2000)
        cls.laws_file = harness.write_laws(os.path.join(cls.tmp, "laws.toml"), ballot.values())
        cls.pool = harness.VoterPool(cls.electorate.registry)

    @classmethod
    def tearDownClass(cls):
        if cls.keep or os.environ.get("SCRUTIN_KEEP_TMP") == "1":
            print(f"\nkept {cls.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        name = self.id().rsplit(".", 1)[1]
        self.server = harness.Server(
            self.electorate, self.laws_file, os.path.join(self.tmp, name, "data"),
            os.path.join(self.tmp, f"{name}.serve.log"), rate_limit=None,
            preexec_fn=kit.serve_with_soft_file_limit_1024)
        self.server.start()
        self.port = self.server.port
        self.honest = kit.HonestVoter(self.port, self.pool, self.law)
        self.tally = kit.Tally()
        self.stop = threading.Event()
        self.attack_threads = []
        self.failures = []

    def tearDown(self):
        self.stop.set()
        for t in self.attack_threads:
            t.join(15)
        self.server.kill()
        if self.failures or any(t.is_alive() for t in self.attack_threads):
            type(self).keep = True

    # ---- the scene -----------------------------------------------------------------------------

    def attack(self, *targets, warmup=WARMUP, honest_seconds=HONEST_SECONDS):
        """Starts each target(stop) in a thread, lets the attack run alone for `warmup`, then the
        honest voter votes for `honest_seconds`; stops the attack and returns the server's CPU %
        of one core over the whole attack."""
        cpu = kit.CpuMeter(self.server.proc.pid).start()
        for target in targets:
            t = threading.Thread(target=target, args=(self.stop,), daemon=True)
            t.start()
            self.attack_threads.append(t)
        self.stop.wait(warmup)
        self.honest.run(honest_seconds)
        self.stop.set()
        pct = cpu.stop()
        for t in self.attack_threads:
            t.join(15)
            if t.is_alive():
                self.failures.append("an attacker thread did not stop within 15 s (harness bug)")
        return pct

    def judge(self, attack, cpu_pct, cpu_bound=False, **extra):
        """Prints the figures, then checks the pass criteria; fails with every unmet one."""
        kit.print_figures(SHAPE, attack, self.honest, cpu_pct, self.tally, **extra)
        f = self.honest.figures()
        if f["honest_success_rate"] < kit.PASS_RATE:
            self.failures.append(
                f"honest voter: {f['honest_202_within_1s']}/{f['honest_votes']} votes answered "
                f"202 within {kit.HONEST_DEADLINE:g} s (< {kit.PASS_RATE:.0%}); answers "
                f"{f['honest_answers']}, p99 {f['honest_p99_ms']} ms")
        if cpu_bound and (cpu_pct is None or cpu_pct >= kit.CPU_CEILING_PCT):
            self.failures.append(f"server CPU {cpu_pct if cpu_pct is None else round(cpu_pct)}% "
                                 f"of one core over the attack (limit "
                                 f"{kit.CPU_CEILING_PCT:g}%)")
        for p in sorted(set(self.tally.problems + self.honest.problems)):
            self.failures.append(p)
        if not self.server.running():
            self.failures.append(f"serve died under the attack:\n{self.server.log_tail(2000)}")
        elif not self.healthy_for_others():
            self.failures.append("serve did not answer /api/v1/health from 127.0.0.2 within 5 s "
                                 "after the attack stopped")
        self.finish()

    def finish(self):
        if self.failures:
            self.fail(f"{len(self.failures)} problem(s):\n- " + "\n- ".join(self.failures) +
                      f"\n(serve log: {self.server.log_path})")

    def healthy_for_others(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                s = kit.connect(self.port, kit.HONEST, timeout=1.0)
                try:
                    s.sendall(kit.http_request("GET", "/api/v1/health"))
                    status, _, _ = kit.ResponseReader(s).read(time.monotonic() + 1.0)
                    if status == 200:
                        return True
                finally:
                    s.close()
            except (OSError, kit.ServerClosed):
                pass
            time.sleep(0.1)
        return False

    # ---- 1. pipelined POST flood -----------------------------------------------------------------

    def test_1_pipelined_post_flood(self):
        """8 keep-alive connections pipelining `{}` POSTs (each a 400, or a 429 once the
        attacker's own allowance is spent) as fast as the server answers."""
        flood = [kit.http_request("POST", "/api/v1/vote", b"{}")]

        def attacker(stop):
            kit.pipelined_flood(self.port, flood, stop, self.tally)

        cpu = self.attack(*[attacker] * 8)
        self.judge("pipelined_post_flood", cpu, connections=8)

    # ---- 2. connection exhaustion ------------------------------------------------------------------

    def test_2a_slowloris_slowhttptest(self):
        """`slowhttptest -H -c 4000 -i 10 -r 500 -l 20 -u http://127.0.0.1:PORT/api/v1/laws -t GET`
        (slowloris: 4000 connections, each sending one more header line every 10 s)."""
        tool = shutil.which("slowhttptest")
        if tool is None:
            self.skipTest("slowhttptest is not installed (scripts/install-deps installs it)")
        log_path = os.path.join(self.tmp, "slowhttptest.log")
        tool_stats = {}

        def attacker(stop):
            cmd = [tool, "-H", "-c", "4000", "-i", "10", "-r", "500", "-l", "20",
                   "-u", f"http://127.0.0.1:{self.port}/api/v1/laws", "-t", "GET"]
            with open(log_path, "wb") as log:
                p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     preexec_fn=kit.raised_file_limit_preexec)
                try:
                    stop.wait(30)
                finally:
                    if p.poll() is None:
                        p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
            tool_stats.update(parse_slowhttptest(log_path))

        # 4000 connections at 500/s take 8 s to open: the honest voter starts once they are.
        cpu = self.attack(attacker, warmup=9.0)
        self.judge("slowloris_slowhttptest", cpu,
                   tool="slowhttptest -H -c 4000 -i 10 -r 500 -l 20 -t GET",
                   slowhttptest_last_status=tool_stats)

    def test_2b_idle_connections(self):
        """5000 TCP connections opened from 127.0.0.1 and held open, sending nothing."""
        if self.own_file_limit < IDLE_CONNECTIONS + 200:
            self.skipTest(f"this process may open only {self.own_file_limit} files")
        socks = []

        def attacker(stop):
            deadline = time.monotonic() + 5.0
            for _ in range(IDLE_CONNECTIONS):
                if stop.is_set() or time.monotonic() > deadline:
                    break
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    s.bind((kit.ATTACKER, 0))
                    s.setblocking(False)
                    err = s.connect_ex(("127.0.0.1", self.port))
                except OSError:
                    err = -1
                if err not in (0, 115):  # 115: EINPROGRESS
                    self.tally.add("connect_failed")
                    s.close()
                    continue
                socks.append(s)
            self.tally.add("opened", len(socks))
            stop.wait(30)

        try:
            cpu = self.attack(attacker, warmup=3.0)
            closed = 0
            for s in socks:
                try:
                    if s.recv(1) == b"":
                        closed += 1
                except BlockingIOError:
                    pass  # still open, nothing sent
                except OSError:
                    closed += 1  # reset or never connected
            self.tally.add("closed_by_server", closed)
        finally:
            for s in socks:
                s.close()
        self.judge("idle_connections_5000", cpu, connections=IDLE_CONNECTIONS)

    # ---- 3. chunk-extension and trailer bombs ------------------------------------------------------

    def bomb(self, stop, head, payload, slow, label):
        """Sends `head` then `payload` (at once, or 1 KiB every 50 ms), then waits for a 4xx or
        a close, again and again until `stop` (at most 500 times)."""
        for _ in range(500):
            if stop.is_set():
                return
            try:
                s = kit.connect(self.port)
            except OSError:
                self.tally.add(f"{label}connect_failed")
                stop.wait(0.05)
                continue
            try:
                s.sendall(head)
                if slow:
                    for i in range(0, len(payload), 1024):
                        if stop.is_set():
                            return
                        s.sendall(payload[i:i + 1024])
                        time.sleep(0.05)
                else:
                    s.sendall(payload)
                status, headers, body = kit.ResponseReader(s).read(
                    time.monotonic() + BOMB_ANSWER_WITHIN)
                self.tally.response(status, headers, body, prefix=label)
                if status < 400 or status >= 500:
                    self.failures.append(f"{label}bomb answered {status} (expected a 4xx)")
            except kit.ServerClosed:
                self.tally.add(f"{label}closed")
            except (BrokenPipeError, ConnectionResetError):
                self.tally.add(f"{label}closed_while_sending")
            except (socket.timeout, TimeoutError):
                self.tally.add(f"{label}no_answer_within_{BOMB_ANSWER_WITHIN:g}s")
            except OSError as e:
                self.tally.add(f"{label}{type(e).__name__}")
            finally:
                s.close()
            stop.wait(0.05)

    def judge_bomb(self, attack, cpu):
        counts, _ = self.tally.snapshot()
        stuck = sum(v for k, v in counts.items() if "no_answer" in k)
        if stuck:
            self.failures.append(f"{stuck} bomb(s) neither answered nor closed within "
                                 f"{BOMB_ANSWER_WITHIN:g} s (the connection is held, parsing)")
        self.judge(attack, cpu, cpu_bound=True, bomb_bytes=BOMB_BYTES, connections=2)

    def test_3a_chunk_extension_bomb(self):
        """`Transfer-Encoding: chunked`, then `1;` and 32 KiB of chunk extension with no end of
        line: one connection sends it at once, one slowly."""
        head = (b"POST /api/v1/vote HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1;")
        payload = b"a" * BOMB_BYTES
        cpu = self.attack(lambda stop: self.bomb(stop, head, payload, False, "fast:"),
                          lambda stop: self.bomb(stop, head, payload, True, "slow:"))
        self.judge_bomb("chunk_extension_bomb", cpu)

    def test_3b_trailer_bomb(self):
        """An empty chunked body (`2 {}` then `0`), then 32 KiB of trailer fields with no end:
        one connection sends many short fields at once, one a single huge field slowly."""
        head = (b"POST /api/v1/vote HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\n{}\r\n0\r\n")
        many = b"".join(b"X-Pad-%05d: %s\r\n" % (i, b"b" * 20) for i in range(BOMB_BYTES // 35))
        huge = b"X-Huge: " + b"c" * BOMB_BYTES
        cpu = self.attack(lambda stop: self.bomb(stop, head, many, False, "fields:"),
                          lambda stop: self.bomb(stop, head, huge, True, "huge:"))
        self.judge_bomb("trailer_bomb", cpu)

    # ---- 4. Transfer-Encoding smuggling ------------------------------------------------------------

    TRANSFER_ENCODINGS = (b"gzip, chunked, identity", b"chunked, gzip", b"identity")

    def te_exchange(self, te, source=kit.ATTACKER):
        """One POST with `Transfer-Encoding: te` whose body bytes are a whole second request.
        Returns (statuses answered, closed afterwards)."""
        smuggled = b"GET /api/v1/laws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        req = (b"POST /api/v1/vote HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: " + te + b"\r\n\r\n" +
               smuggled)
        s = kit.connect(self.port, source)
        statuses = []
        try:
            s.sendall(req)
            reader = kit.ResponseReader(s)
            deadline = time.monotonic() + 5.0
            try:
                while len(statuses) < 3:
                    status, headers, body = reader.read(deadline)
                    statuses.append(status)
                    self.tally.response(status, headers, body, prefix=te.decode() + ":")
            except kit.ServerClosed:
                return statuses, True
            except (socket.timeout, TimeoutError):
                return statuses, False
            return statuses, reader.wait_closed(deadline)
        finally:
            s.close()

    def test_4_transfer_encoding_not_chunked_last(self):
        """Any Transfer-Encoding whose last coding is not `chunked`, or with another coding than
        `chunked`: 400 and the connection closed; the bytes after the head (a whole GET) are
        never answered as a second request. Once on a fresh server, then repeatedly while the
        honest voter votes (a 429 then is the attacker's own allowance running out)."""
        for te in self.TRANSFER_ENCODINGS:
            statuses, closed = self.te_exchange(te, source="127.0.0.3")
            if statuses != [400] or not closed:
                self.failures.append(f"Transfer-Encoding: {te.decode()}: answers {statuses}, "
                                     f"connection {'closed' if closed else 'left open'} "
                                     f"(expected [400] and closed)")

        def attacker(stop):
            for i in range(2000):
                if stop.is_set():
                    return
                te = self.TRANSFER_ENCODINGS[i % len(self.TRANSFER_ENCODINGS)]
                try:
                    statuses, closed = self.te_exchange(te)
                except OSError:
                    self.tally.add("connect_failed")
                    stop.wait(0.05)
                    continue
                if len(statuses) > 1 or any(s not in (400, 429) for s in statuses) or not closed:
                    self.tally.add("smuggled_or_left_open")
                stop.wait(0.01)

        cpu = self.attack(attacker)
        counts, _ = self.tally.snapshot()
        if counts.get("smuggled_or_left_open"):
            self.failures.append(f"{counts['smuggled_or_left_open']} exchange(s) under load "
                                 "answered more than once, not 400/429, or left open")
        self.judge("transfer_encoding_smuggling", cpu)

    # ---- 5. malformed HTTP --------------------------------------------------------------------------

    def test_5_malformed_http_flood(self):
        """16 connections at a time from 127.0.0.1, each sending one malformed request (garbage,
        a TLS hello, bad request lines, bad or too many headers) and reading until close."""
        rng = kit.new_rng(5)
        garbage = [
            bytes(rng.getrandbits(8) for _ in range(512)),
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /api/v1/vote HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST /api/v1/vote HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"Content-Length: 7\r\n\r\n{}",
            b"GET /api/v1/laws HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(100)),
            b"GET /api/v1/laws HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 2000 + b"\r\n",
            b"\r\n\r\n\r\n\r\n",
            b"GET /api/v1/laws HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        ]

        def attacker(stop):
            for i in range(100_000):
                if stop.is_set():
                    return
                payload = garbage[i % len(garbage)]
                try:
                    s = kit.connect(self.port, timeout=2.0)
                except OSError:
                    self.tally.add("connect_failed")
                    stop.wait(0.01)
                    continue
                try:
                    s.sendall(payload)
                    status, headers, body = kit.ResponseReader(s).read(time.monotonic() + 2.0)
                    self.tally.response(status, headers, body)
                except kit.ServerClosed:
                    self.tally.add("closed")
                except (socket.timeout, TimeoutError):
                    self.tally.add("timeout")
                except OSError:
                    self.tally.add("reset")
                finally:
                    s.close()

        cpu = self.attack(*[attacker] * 16)
        self.judge("malformed_http_flood", cpu, connections=16)

    # ---- 6. online guessing and GET flood -----------------------------------------------------------

    def guess(self, victim, code, source):
        """One guess for the victim's NAS on a fresh connection: (status, headers, body)."""
        s = kit.connect(self.port, source)
        try:
            body = ('{"nas": "%s", "code": "%s", "law_id": "%s", "vote": "oui"}'
                    % (victim.nas, code, self.law)).encode()
            s.sendall(kit.http_request("POST", "/api/v1/vote", body))
            return kit.ResponseReader(s).read(time.monotonic() + 5.0)
        finally:
            s.close()

    def test_6a_online_guessing(self):
        """One known NAS, many codes, from 127.0.0.1: after the per-credential allowance
        (default 60 attempts per law per 600 s), 429 scope credential, from any address."""
        victim = self.pool.take([self.law])
        rng = kit.new_rng(6)
        recorded = []  # 202s for the victim's NAS: each one an attempt the server let through

        def attacker(stop):
            for _ in range(400):
                if stop.is_set():
                    return
                code = kit.random_code(rng)
                if code == victim.code:
                    continue
                try:
                    status, headers, body = self.guess(victim, code, kit.ATTACKER)
                except (OSError, kit.ServerClosed):
                    self.tally.add("no_answer")
                    continue
                self.tally.response(status, headers, body)
                if status == 202:
                    recorded.append(status)

        cpu = self.attack(attacker)
        # The allowance is the credential's, not the address's: fresh addresses get 429 too.
        for source in ("127.0.0.3", "127.0.0.4"):
            for _ in range(3):
                try:
                    status, headers, body = self.guess(victim, kit.random_code(rng), source)
                except (OSError, kit.ServerClosed) as e:
                    self.failures.append(f"guess from {source}: no answer ({e!r})")
                    continue
                self.tally.response(status, headers, body, prefix=f"{source}:")
                try:
                    scope = json.loads(body.decode("utf-8")).get("scope")
                except (ValueError, UnicodeDecodeError, AttributeError):
                    scope = None
                if status != 429 or scope != "credential":
                    self.failures.append(f"guess from {source} after the allowance: {status} "
                                         f"scope {scope!r} (expected 429 scope credential)")
        if len(recorded) > DEFAULT_CREDENTIAL_ATTEMPTS:
            self.failures.append(f"{len(recorded)} guesses for one NAS recorded (202), more than "
                                 f"the default allowance of {DEFAULT_CREDENTIAL_ATTEMPTS}")
        _, scopes = self.tally.snapshot()
        if not scopes.get("credential"):
            self.failures.append("no 429 scope credential for 400 guesses on one NAS")
        self.judge("online_guessing", cpu, guesses_recorded=len(recorded))

    def test_6b_get_flood(self):
        """8 keep-alive connections pipelining GET /api/v1/results/{law} and GET /api/v1/laws."""
        flood = [kit.http_request("GET", f"/api/v1/results/{self.law}"),
                 kit.http_request("GET", "/api/v1/laws")]

        def attacker(stop):
            kit.pipelined_flood(self.port, flood, stop, self.tally)

        cpu = self.attack(*[attacker] * 8)
        self.judge("get_flood", cpu, connections=8)


def parse_slowhttptest(path):
    """The last figures slowhttptest printed: connected, pending, closed, ..."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", f.read())
    except OSError:
        return {}
    out = {}
    for key in ("pending", "connected", "error", "closed"):
        found = re.findall(rf"{key}:\s*(\d+)", text)
        if found:
            out[key] = int(found[-1])
    found = re.findall(r"service available:\s*(\w+)", text)
    if found:
        out["service_available"] = found[-1]
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)

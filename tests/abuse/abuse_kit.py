"""What the abuse suites share: the honest voter, the server CPU meter, raw-socket HTTP, tallies.

The scene of every attack: an attacker on 127.0.0.1 (one source address, no credentials) and an
honest voter on 127.0.0.2 who casts about 10 votes a second, each with a fresh eligible credential
on a fresh connection, as a browser would. The attack holds when the honest voter gets at least
99% of its votes answered 202 within 1 s (HonestVoter.figures), and, for the attacks that could
burn the server's CPU, when the server used less than half a core over the attack (CpuMeter).

Only 127.0.0.0/8 addresses are used. Every loop here is bounded in time (a stop event or a
deadline) and in count (a budget), so a server that never answers cannot hang a suite.

Standard library only; reuses tests/integration/harness for the electorate and `scrutin serve`.
"""

import collections
import http.client
import json
import math
import os
import random
import resource
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402,F401  (re-exported for the suites)

ATTACKER = "127.0.0.1"
HONEST = "127.0.0.2"

HONEST_RATE = 10.0  # votes per second
HONEST_DEADLINE = 1.0  # a vote counts as answered when 202 arrives within this many seconds
HONEST_TIMEOUT = 3.0  # how long the honest voter waits at most (to measure a slow answer)
PASS_RATE = 0.99
CPU_CEILING_PCT = 50.0  # of one core, under the chunk-extension and trailer bombs

# The file limit a systemd unit gives by default (LimitNOFILE soft 1024): the server must raise
# it itself (README "Limits at the front door", connections in all).
SERVE_SOFT_NOFILE = 1024

RATE_LIMITED_SCOPES = ("client", "credential", "instance")


def serve_with_soft_file_limit_1024():
    """preexec_fn for the server: soft RLIMIT_NOFILE 1024, the hard limit unchanged."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = SERVE_SOFT_NOFILE if hard == resource.RLIM_INFINITY else min(SERVE_SOFT_NOFILE, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def raise_own_file_limit():
    """Raises this process's soft RLIMIT_NOFILE to its hard limit (the attacker needs thousands of
    sockets); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def raised_file_limit_preexec():
    """preexec_fn for an attack tool (slowhttptest): soft RLIMIT_NOFILE raised to the hard one."""
    raise_own_file_limit()


class CpuMeter:
    """CPU time (user + system) of a process between start() and stop(), as % of one core."""

    def __init__(self, pid):
        self.pid = pid
        self.hz = os.sysconf("SC_CLK_TCK")
        self.t0 = self.c0 = None

    def _seconds(self):
        with open(f"/proc/{self.pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # After the command name: state is field 3, utime field 14, stime field 15 (proc(5)).
        return (int(fields[11]) + int(fields[12])) / self.hz

    def start(self):
        self.t0, self.c0 = time.monotonic(), self._seconds()
        return self

    def stop(self):
        """% of one core since start() (None when the process is gone)."""
        try:
            used = self._seconds() - self.c0
        except OSError:
            return None
        wall = max(1e-6, time.monotonic() - self.t0)
        return 100.0 * used / wall


def check_rate_limited(status, headers, body):
    """Problems (a list of strings, empty when fine) with a 429: Retry-After in seconds and the
    body {"error": "rate_limited", "scope": "client"|"credential"|"instance", "message": ...}."""
    problems = []
    if status != 429:
        return problems
    retry = headers.get("retry-after") if isinstance(headers, dict) else headers.get("Retry-After")
    if retry is None or not str(retry).strip().isdigit():
        problems.append(f"429 without a Retry-After in seconds (got {retry!r})")
    try:
        doc = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return problems + [f"429 body is not JSON: {body[:200]!r}"]
    if not isinstance(doc, dict):
        return problems + [f"429 body is not an object: {body[:200]!r}"]
    if doc.get("error") != "rate_limited":
        problems.append(f"429 error is {doc.get('error')!r}, not 'rate_limited'")
    if doc.get("scope") not in RATE_LIMITED_SCOPES:
        problems.append(f"429 scope is {doc.get('scope')!r}, not one of {RATE_LIMITED_SCOPES}")
    if not isinstance(doc.get("message"), str) or not doc.get("message"):
        problems.append("429 without a message")
    return problems


class Tally:
    """Thread-safe counts of what the attacker got back, keyed by status ("429") or event
    ("closed", "timeout", ...), with the 429s checked and a few of their scopes kept."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts = collections.Counter()
        self.scopes = collections.Counter()
        self.problems = []

    def add(self, key, n=1):
        with self._lock:
            self.counts[key] += n

    def response(self, status, headers, body, prefix=""):
        problems = check_rate_limited(status, headers, body)
        scope = None
        if status == 429:
            try:
                scope = json.loads(body.decode("utf-8")).get("scope")
            except (ValueError, UnicodeDecodeError, AttributeError):
                scope = None
        with self._lock:
            self.counts[f"{prefix}{status}"] += 1
            if status == 429:
                self.scopes[str(scope)] += 1
            if problems and len(self.problems) < 10:
                self.problems.extend(problems)

    def snapshot(self):
        with self._lock:
            return dict(sorted(self.counts.items())), dict(sorted(self.scopes.items()))


class HonestVoter:
    """Votes at HONEST_RATE from HONEST, one fresh eligible credential and one fresh connection
    per vote, each vote in its own thread so that a slow answer does not delay the next vote."""

    def __init__(self, port, pool, law, source=HONEST, host="127.0.0.1"):
        self.port = port
        self.pool = pool
        self.law = law
        self.source = source
        self.host = host
        self.results = []  # (status or error name, seconds)
        self.problems = []  # malformed 429s
        self._lock = threading.Lock()

    def _vote(self, voter, choice):
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HONEST_TIMEOUT,
                                          source_address=(self.source, 0))
        try:
            body = json.dumps({"nas": voter.nas, "code": voter.code, "law_id": self.law,
                               "vote": choice})
            conn.request("POST", "/api/v1/vote", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            outcome = r.status
            problems = check_rate_limited(r.status, r.headers, data)
        except (OSError, http.client.HTTPException) as e:
            outcome = type(e).__name__
            problems = []
        finally:
            conn.close()
        with self._lock:
            self.results.append((outcome, time.monotonic() - t0))
            self.problems.extend(problems)

    def run(self, seconds):
        """Casts int(seconds * HONEST_RATE) votes evenly over `seconds`; returns when every vote
        has its answer (or gave up after HONEST_TIMEOUT)."""
        n = max(1, int(seconds * HONEST_RATE))
        t0 = time.monotonic()
        threads = []
        for i in range(n):
            delay = t0 + i / HONEST_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = threading.Thread(target=self._vote,
                                 args=(self.pool.take([self.law]), "oui" if i % 2 else "non"),
                                 daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(HONEST_TIMEOUT + 5)
        return self

    def figures(self):
        with self._lock:
            results = list(self.results)
        n = len(results)
        ok = sum(1 for status, s in results if status == 202 and s <= HONEST_DEADLINE)
        latencies = sorted(s for _, s in results)
        p99 = latencies[max(0, math.ceil(0.99 * n) - 1)] if latencies else float("nan")
        answers = collections.Counter(str(status) for status, _ in results)
        return {"honest_votes": n, "honest_202_within_1s": ok,
                "honest_success_rate": round(ok / n, 4) if n else 0.0,
                "honest_p99_ms": round(1000 * p99, 1),
                "honest_answers": dict(sorted(answers.items()))}

    def success_rate(self):
        return self.figures()["honest_success_rate"]


def connect(port, source=ATTACKER, timeout=5.0, host="127.0.0.1"):
    """A TCP connection to host:port from `source` (raises OSError)."""
    return socket.create_connection((host, port), timeout=timeout, source_address=(source, 0))


class ServerClosed(Exception):
    """The server closed the connection (or reset it) before a whole response arrived."""


class ResponseReader:
    """Reads HTTP/1.1 responses from a raw socket: status, lower-cased headers, body (by
    Content-Length, chunked, or until close). One thread at a time."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no response before the deadline")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            raise ServerClosed()
        self.buf += data

    def _take_until(self, marker, deadline, limit=1 << 20):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + len(marker):]
                return out
            if len(self.buf) > limit:
                raise ServerClosed()  # not HTTP: treat as a broken connection
            self._fill(deadline)

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self, deadline):
        """(status, headers, body). Raises ServerClosed when the connection ends first and
        socket.timeout at the deadline."""
        head = self._take_until(b"\r\n\r\n", deadline)
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ServerClosed()
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        if status < 200 or status in (204, 304):
            return status, headers, b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self._take_until(b"\r\n", deadline).split(b";")[0] or b"0", 16)
                if size == 0:
                    while self._take_until(b"\r\n", deadline):  # trailers, then an empty line
                        pass
                    return status, headers, body
                body += self._take(size, deadline)
                self._take(2, deadline)
        if "content-length" in headers:
            return status, headers, self._take(int(headers["content-length"]), deadline)
        body = self.buf  # until close
        try:
            while True:
                self._fill(deadline)
        except ServerClosed:
            body, self.buf = self.buf, b""
        return status, headers, body

    def wait_closed(self, deadline):
        """True when the server closes the connection before the deadline without sending
        another byte; False when bytes arrive (left in self.buf) or the deadline passes."""
        if self.buf:
            return False
        try:
            self._fill(deadline)
        except ServerClosed:
            return True
        except (socket.timeout, TimeoutError):
            return False
        return False


def http_request(method, path, body=b"", content_type="application/json", extra=b""):
    """The bytes of one HTTP/1.1 request with a Content-Length body."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body or method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + extra + b"\r\n" + body


def pipelined_flood(port, requests, stop, tally, batch=32, budget=2_000_000, source=ATTACKER):
    """One keep-alive connection sending `requests` (cycled) in pipelined batches of `batch` and
    reading every answer, as fast as the server answers, until `stop` or `budget` requests;
    reconnects when the server closes. Counts answers by status in `tally`."""
    sent = 0
    i = 0
    while not stop.is_set() and sent < budget:
        try:
            s = connect(port, source)
        except OSError:
            tally.add("connect_failed")
            stop.wait(0.05)
            continue
        reader = ResponseReader(s)
        try:
            while not stop.is_set() and sent < budget:
                chunk = b"".join(requests[(i + k) % len(requests)] for k in range(batch))
                i += batch
                s.sendall(chunk)
                sent += batch
                deadline = time.monotonic() + 5.0
                for _ in range(batch):
                    status, headers, body = reader.read(deadline)
                    tally.response(status, headers, body)
        except ServerClosed:
            tally.add("closed")
        except (socket.timeout, TimeoutError):
            tally.add("timeout")
        except OSError:
            tally.add("reset")
        finally:
            s.close()


def random_code(rng):
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(6))


def new_rng(seed):
    return random.Random(seed)


def print_figures(shape, attack, honest, cpu_pct, tally, **extra):
    """One `ABUSE-FIGURES {json}` line on stdout (what bench/RESULTS.md quotes)."""
    counts, scopes = tally.snapshot()
    line = {"shape": shape, "attack": attack, **honest.figures(),
            "server_cpu_pct_of_core": None if cpu_pct is None else round(cpu_pct, 1),
            "attacker_answers": counts}
    if scopes:
        line["attacker_429_scopes"] = scopes
    line.update(extra)
    print("ABUSE-FIGURES " + json.dumps(line), flush=True)
    return line

"""Fixtures for the chaos tests of the distributed shape (Python 3 standard library only).

A `Cluster` is one throw-away distributed deployment in a temporary directory: a small generated
electorate (tests/integration/harness.Electorate), a ballot of open laws, and `scripts/cluster
start` (PostgreSQL, Redis or a 3-master Redis Cluster, RabbitMQ, aggregator(s), validators,
api(s)). The tests kill and restart its processes (optionally with SCRUTIN_FAILPOINT, the fault
injection hook of src/core/failpoint.hpp), stop the broker, and then check the stores directly:

- `Ledger.read()` snapshots what PostgreSQL (psql) and Redis (a tiny RESP client below) hold;
- `Ledger.check()` asserts that the snapshot is exactly what the votes the test sent must have
  produced: one audit row per 202, the accepted digests in `accepted_credentials`, in the audit
  (the voted set rebuilt from `vote_audit` alone) and claimed in Redis with the claiming request's
  tag, one ballot per accepted vote with its receipt, and tallies equal to the ballots.

The test knows the election key, so it recomputes every digest, request key, claim tag and receipt
(src/core/credential.hpp, src/core/request_id.hpp) and compares values, not just counts.

`Cluster.stop()` always runs (tests call it from tearDown/tearDownModule) and stops everything the
fixture or the script started, by PID. SCRUTIN_KEEP_TMP=1 keeps the directory (logs, .cmd files).
Nothing here is thread-safe unless it says so; `Voter`-level helpers (`VoteBook`) are.
"""

import collections
import dataclasses
import datetime
import hashlib
import hmac
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))

import harness  # noqa: E402  (tests/integration/harness: Electorate, Client, Luhn, ...)

CLUSTER_SCRIPT = os.path.join(REPO_ROOT, "scripts", "cluster")
FINAL = ("accepted", "duplicate", "invalid")
LAW_A = "L2026-101"
LAW_B = "L2026-102"


def keep_tmp():
    return os.environ.get("SCRUTIN_KEEP_TMP") == "1"


def log(msg):
    """Progress lines on stderr (ctest shows them on failure), with a wall-clock stamp."""
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


# ---- values derived from a request id and a credential (mirrors of src/core) -------------------

def _uuid_bytes(request_id):
    h = request_id.replace("-", "")
    if len(h) != 32:
        raise ValueError(f"not a UUID: {request_id!r}")
    return bytes.fromhex(h)


def _derive_hex(tag, request_id):
    return hashlib.sha256(tag + _uuid_bytes(request_id)).hexdigest()[:32]


def status_key(request_id):
    """core::StatusKey: vote_audit.request_key and request_status.status_key."""
    return _derive_hex(b"scrutin/status/v1", request_id)


def claim_tag(request_id):
    """core::ClaimTag: stored beside an accepted digest in Redis and accepted_credentials."""
    return _derive_hex(b"scrutin/claim/v1", request_id)


def receipt(request_id):
    """core::Receipt: 80 bits of SHA-256 in Crockford base32, grouped XXXX-XXXX-XXXX-XXXX."""
    h = hashlib.sha256(b"scrutin/receipt/v1" + _uuid_bytes(request_id)).digest()[:10]
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    n = int.from_bytes(h, "big")
    chars = [alphabet[(n >> (75 - 5 * i)) & 0x1F] for i in range(16)]
    return "-".join("".join(chars[i:i + 4]) for i in range(0, 16, 4))


class Hasher:
    """core::CredentialHasher for the hmac-sha256 scheme, from a `scrutin keygen` key file."""

    def __init__(self, key_file):
        with open(key_file, encoding="ascii") as f:
            self.key = bytes.fromhex(f.read().strip())
        if len(self.key) != 32:
            raise ValueError(f"{key_file}: not a 32-byte election key")

    def digest(self, nas, code, law_id):
        """Hex digest of the normalised credential (9 digits, upper-case code)."""
        msg = f"{nas}|{code.upper()}|{law_id}".encode("ascii")
        return hmac.new(self.key, msg, hashlib.sha256).hexdigest()


# ---- a minimal Redis client (RESP2), enough to read the ledger ---------------------------------

class RedisError(RuntimeError):
    pass


class Resp:
    """One connection to one Redis node. Bulk strings come back as bytes."""

    def __init__(self, host, port, timeout=10.0, ca=None):
        """`ca`: the CA file of a Redis started with --tls (its TLS port only)."""
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if ca:
            ctx = ssl.create_default_context(cafile=ca)
            self.sock = ctx.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""

    def close(self):
        self.sock.close()

    def command(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RedisError("connection closed by Redis")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RedisError("connection closed by Redis")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RedisError(f"unexpected RESP reply {line[:40]!r}")


def redis_ca(env):
    """The CA to verify Redis with when it runs over TLS (rediss://), else None."""
    url = env.get("REDIS_CLUSTER_URL") or env.get("REDIS_URL") or ""
    return env.get("TLS_CA") if url.startswith("rediss") else None


def redis_nodes(env):
    """[(host, port)] of every master: REDIS_CLUSTER_NODES, else REDIS_URL."""
    nodes = env.get("REDIS_CLUSTER_NODES")
    if nodes:
        out = []
        for hp in nodes.split(","):
            host, port = hp.strip().rsplit(":", 1)
            out.append((host, int(port)))
        return out
    u = urllib.parse.urlsplit(env["REDIS_URL"])
    return [(u.hostname, u.port or 6379)]


@dataclasses.dataclass
class RedisClaims:
    claims: dict  # digest suffix (32 hex) -> (claim tag 32 hex, attempts)
    eligible: int  # fields in every bucket, claimed or not
    bucket_keys_by_node: dict  # "host:port" -> number of bucket keys held there


def read_redis_claims(env, prefix="sc:"):
    """Every field of every ledger bucket on every master (SCAN per node, HGETALL per bucket).
    Value layout (src/adapters/redis/ledger_layout.hpp): empty = eligible, unclaimed; else 16 raw
    bytes of claim tag followed by the attempt count in decimal. 32-byte fields remember which
    request made which duplicate attempt (src/adapters/redis/redis_credential_ledger.cpp); the
    1-byte field "#" is the bucket's marker."""
    claims, eligible, per_node = {}, 0, {}
    pattern = prefix + "{e:*"
    for host, port in redis_nodes(env):
        r = Resp(host, port, ca=redis_ca(env))
        try:
            keys = []
            cursor = b"0"
            while True:
                cursor, batch = r.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
                keys += batch
                if cursor == b"0":
                    break
            per_node[f"{host}:{port}"] = len(keys)
            for key in keys:
                flat = r.command("HGETALL", key)
                for field, value in zip(flat[0::2], flat[1::2]):
                    if len(field) == 32:
                        continue  # a duplicate attempt's marker: digest suffix + its claim tag
                    if field == b"#":
                        continue  # the bucket's marker: the ledger id (ledger_layout.hpp)
                    if len(field) != 16:
                        raise AssertionError(f"ledger field of {len(field)} bytes in {key!r}")
                    eligible += 1
                    if value:
                        if len(value) <= 16 or not value[16:].isdigit():
                            raise AssertionError(f"malformed claim value {value!r} in {key!r}")
                        claims[field.hex()] = (value[:16].hex(), int(value[16:]))
        finally:
            r.close()
    return RedisClaims(claims, eligible, per_node)


# ---- PostgreSQL through psql -------------------------------------------------------------------

def psql(pg_url, sql, timeout=30, ca=None):
    """Rows of a query as lists of strings (psql -At, unit-separator delimited). `ca`: the CA
    file a PostgreSQL started with --tls is verified against (PGSSLROOTCERT)."""
    env = dict(os.environ)
    if ca:
        env["PGSSLROOTCERT"] = ca
    p = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                        pg_url, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    if p.returncode != 0:
        raise AssertionError(f"psql failed ({sql}): {p.stderr.decode(errors='replace')}")
    out = p.stdout.decode()
    return [line.split("\x1f") for line in out.splitlines() if line]


# ---- processes ---------------------------------------------------------------------------------

def pid_alive(pid):
    """False when the process is gone or a zombie (PID 1 here does not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def proc_environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def clean_env(extra=None):
    """The caller's environment without SCRUTIN_* (except SCRUTIN_BIN), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SCRUTIN_") or k in ("SCRUTIN_BIN", "SCRUTIN_KEEP_TMP")}
    env.update(extra or {})
    return env


class Cluster:
    """One distributed deployment in a temporary directory. One test thread drives it."""

    def __init__(self, name, apis=1, validators=2, aggregators=1, redis_cluster=False,
                 voters=400, law_ids=(LAW_A, LAW_B), start_timeout=180, cluster_args=(),
                 mix_size=1, closes_in=None):
        self.name = name
        self.cluster_args = list(cluster_args)  # more `scripts/cluster start` options
        # The aggregators' mixer k (docs/ballot-secrecy.md): 1 for the suites that count every
        # vote; None leaves the binary's default.
        self.mix_size = mix_size
        # Seconds from the start to the laws' close (None: two days, beyond any test).
        self.closes_in = closes_in
        self.closes_at = None
        self.apis, self.validators, self.aggregators = apis, validators, aggregators
        self.redis_cluster = redis_cluster
        self.voters = voters
        self.law_ids = tuple(law_ids)
        self.start_timeout = start_timeout
        self.binary = harness.find_binary()
        self.tmp = tempfile.mkdtemp(prefix=f"scrutin-chaos-{name}-")
        os.chmod(self.tmp, 0o755)  # the postgres user must reach DIR/pg
        self.dir = os.path.join(self.tmp, "cluster")
        self.env = {}
        self.electorate = None
        self.laws_file = None
        self.hasher = None
        self.own = []  # (Popen, log file) of processes this fixture spawned itself
        self.started = False

    # ---- life cycle ----------------------------------------------------------------------------

    def start(self):
        if not os.access(CLUSTER_SCRIPT, os.X_OK):
            raise harness.HarnessError(f"{CLUSTER_SCRIPT} is missing or not executable")
        t0 = time.monotonic()
        self.electorate = harness.Electorate(os.path.join(self.tmp, "electorate"),
                                             list(self.law_ids), count=self.voters,
                                             binary=self.binary)
        now = datetime.datetime.now(datetime.timezone.utc)
        day = datetime.timedelta(days=1)
        close = now + (datetime.timedelta(seconds=self.closes_in) if self.closes_in else 2 * day)
        self.closes_at = close
        laws = [harness.LawSpec(law, f"Loi {law}", f"Act {law}", now - day, close)
                for law in self.law_ids]
        self.laws_file = harness.write_laws(os.path.join(self.tmp, "laws.toml"), laws)
        self.hasher = Hasher(self.electorate.key_file)
        cmd = [CLUSTER_SCRIPT, "start", self.dir, "--apis", str(self.apis),
               "--validators", str(self.validators), "--aggregators", str(self.aggregators),
               "--laws", self.laws_file, "--hashes", self.electorate.hashes_dir,
               "--key-file", self.electorate.key_file]
        if self.redis_cluster:
            cmd.append("--redis-cluster")
        if self.mix_size is not None:
            cmd += ["--mix-size", str(self.mix_size)]
        cmd += self.cluster_args
        self.started = True  # from here on stop() has something to clean
        self._script(cmd, self.start_timeout)
        self.reload_env()
        log(f"{self.name}: cluster up in {time.monotonic() - t0:.1f}s "
            f"({self.apis} api, {self.validators} validators, {self.aggregators} aggregators"
            f"{', redis cluster' if self.redis_cluster else ''}) in {self.dir}")
        return self

    def stop(self):
        """Stops everything (own processes first, then `scripts/cluster stop`); never raises
        before everything was attempted. Returns a list of problems (empty when clean)."""
        problems = []
        for proc, _ in self.own:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if self.started:
            try:
                self._script([CLUSTER_SCRIPT, "stop", self.dir], 120)
            except Exception as e:  # noqa: BLE001
                problems.append(str(e))
            self.started = False
        if keep_tmp() or problems:
            log(f"{self.name}: files kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems

    def _script(self, cmd, timeout, extra_env=None):
        env = clean_env({"SCRUTIN_BIN": self.binary, **(extra_env or {})})
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                               stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")[-3000:]
            raise harness.HarnessError(f"{' '.join(cmd)} did not finish in {timeout}s:\n{out}")
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0:
            raise harness.HarnessError(f"{' '.join(cmd)} exited {p.returncode}:\n{out[-3000:]}")
        return out

    def reload_env(self):
        self.env = harness.read_env_file(os.path.join(self.dir, "cluster.env"))
        if self.env.get("API_URL", "").startswith("https://"):
            # `--tls`: every harness.Client of this test (and the suites it runs) verifies the
            # apis against the cluster's CA.
            os.environ["SCRUTIN_CA_FILE"] = self.env["TLS_CA"]
        return self.env

    # ---- what tests use ------------------------------------------------------------------------

    @property
    def api_urls(self):
        return [u for u in self.env.get("API_URLS", self.env.get("API_URL", "")).split(",") if u]

    @property
    def admin_urls(self):
        return [u for u in self.env.get("ADMIN_URLS", "").split(",") if u]

    def url(self, proc_name):
        """HTTP base URL of one process (DIR/<name>.url, written by scripts/cluster)."""
        with open(os.path.join(self.dir, f"{proc_name}.url"), encoding="utf-8") as f:
            return f.read().strip()

    def pg(self, sql):
        return psql(self.env["PG_URL"], sql, ca=self.env.get("TLS_CA"))

    def pid(self, proc_name):
        """PID of `<role>-<i>` (e.g. validator-1) as cluster.env records it."""
        role, i = proc_name.rsplit("-", 1)
        key = f"{role.upper()}_{i}_PID"
        self.reload_env()
        if key not in self.env:
            raise harness.HarnessError(f"cluster.env has no {key}: {sorted(self.env)}")
        return int(self.env[key])

    def kill(self, proc_name, sig=signal.SIGKILL, timeout=25):
        pid = self.pid(proc_name)
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        if not wait_gone(pid, timeout):
            raise AssertionError(f"{proc_name} (pid {pid}) still alive {timeout}s after {sig!r}")

    def restart(self, proc_name, extra_env=None, timeout=90, may_die=False):
        """`scripts/cluster restart-process DIR <proc>` (waits for its health, per the script).
        With `extra_env` (e.g. a failpoint) the new process must carry it: checked in
        /proc/PID/environ, so a script that scrubs the environment fails loudly here.
        `may_die`: the new process may already be gone when the script returns (a failpoint that
        stops it after a few votes fires at once when load reaches its port); the caller then
        checks that it died."""
        self._script([CLUSTER_SCRIPT, "restart-process", self.dir, proc_name,
                      *(["--may-exit"] if may_die else [])], timeout, extra_env)
        pid = self.pid(proc_name)
        if not pid_alive(pid):
            if may_die:
                return pid
            raise AssertionError(f"{proc_name} (pid {pid}) is not running after restart-process")
        if extra_env:
            got = proc_environ(pid)
            if not got and may_die:
                # An exiting process's environ reads empty: it died between the two looks (its
                # failpoint fired, which the caller checks next) or is about to.
                if wait_gone(pid, 2):
                    return pid
                got = proc_environ(pid)
            for k, v in extra_env.items():
                if got.get(k) != v:
                    raise harness.HarnessError(
                        f"restart-process did not pass {k}={v} to {proc_name} (pid {pid}); "
                        "the chaos tests need scripts/cluster to keep the caller's environment")
        return pid

    def rabbitmqctl(self, *args, timeout=60):
        ctl_env = self.env["RABBITMQ_CTL_ENV"]
        node = self.env.get("RABBITMQ_NODE", "")
        node_arg = '-n "$RABBITMQ_NODENAME"' if not node else f"-n {shlex.quote(node)}"
        script = (f"source {shlex.quote(ctl_env)} && rabbitmqctl {node_arg} -q "
                  + " ".join(shlex.quote(a) for a in args))
        p = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"rabbitmqctl {' '.join(args)} exited {p.returncode}: "
                                 f"{p.stdout.decode(errors='replace')[-1000:]}")
        return p.stdout.decode(errors="replace")

    def assert_no_credentials_in_logs(self, book):
        """docs/architecture.md guarantee 3: no NAS or code the test sent appears in any scrutin
        process's log (DIR/*.log: api, validator, aggregator, load-hashes). Matched as whole tokens
        (a NAS not inside a longer number, a code not inside a longer word), case-insensitively, so
        a random 6-character code does not match by chance inside some other text."""
        tokens = set()
        for x in book.casts:
            for form in (x.nas, harness.spaced(x.nas), harness.dashed(x.nas)):
                tokens.add(re.escape(form))
            tokens.add(re.escape(x.code))
        pattern = re.compile(rb"(?<![A-Za-z0-9])(?:" + "|".join(sorted(tokens)).encode() +
                             rb")(?![A-Za-z0-9])", re.IGNORECASE)
        found = []
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".log"):
                continue
            with open(os.path.join(self.dir, name), "rb") as f:
                m = pattern.search(f.read())
            if m:
                found.append(name)
        if found:
            raise AssertionError(f"a NAS or code the test sent appears in {found}")
        return len(tokens)

    def metrics(self, url):
        """Parsed Prometheus samples {(name, frozenset(labels)): value} of one /metrics URL."""
        c = harness.Client(url.rsplit("/metrics", 1)[0])
        r = c.get("/metrics")
        if r.status != 200:
            raise AssertionError(f"GET {url} -> {r}")
        out = {}
        for line in r.text().splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if not m:
                continue
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
        return out


# ---- voting and bookkeeping --------------------------------------------------------------------

@dataclasses.dataclass
class Cast:
    """One POST the test made and what came of it."""

    nas: str
    code: str
    law_id: str
    choice: str
    digest: str
    http_status: object = None  # int, or None when no answer
    response: object = None  # the harness.Response, when there was one
    last: object = None  # the last non-final GET answer (diagnostics)
    request_id: str = None  # set when 202
    final: dict = None  # the final GET body


class VoteBook:
    """Every vote a test sends, so that the stores can be checked against it. Thread-safe."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.casts = []
        self.lock = threading.Lock()
        self.pool = harness.VoterPool(cluster.electorate.registry)
        self.clients = [harness.Client(u, timeout=15) for u in cluster.api_urls]

    def client(self, i=0):
        return self.clients[i % len(self.clients)]

    def refresh_clients(self):
        """Re-reads API_URLS (a restarted api may listen on another port)."""
        self.cluster.reload_env()
        self.clients = [harness.Client(u, timeout=15) for u in self.cluster.api_urls]

    def voter(self, laws=None):
        return self.pool.take(laws or ())

    def send(self, nas, code, law_id, choice, api=0, conn=None):
        """POSTs one vote; records and returns the Cast (http_status None on no answer)."""
        payload = {"nas": nas, "code": code, "law_id": law_id, "vote": choice}
        # Recorded in the normalised form (what the digest is computed over).
        nas, code = nas.replace(" ", "").replace("-", ""), code.upper()
        c = Cast(nas, code, law_id, choice, self.cluster.hasher.digest(nas, code, law_id))
        try:
            r = conn.request("POST", "/api/v1/vote", payload) if conn else \
                self.client(api).post_vote(payload)
            c.http_status = r.status
            if r.status == 202:
                body = r.json()
                c.request_id = body["request_id"]
                if r.header("Location") != f"/api/v1/vote/{c.request_id}":
                    raise AssertionError(f"202 without the right Location: {r.headers}")
            c.response = r
        except Exception:  # noqa: BLE001  OSError or http.client.HTTPException: no answer
            c.http_status = None
        with self.lock:
            self.casts.append(c)
        return c

    def accepted_202(self):
        with self.lock:
            return [c for c in self.casts if c.request_id]

    def wait_all_final(self, timeout=30.0, api=0):
        """Every 202 reaches a final status within `timeout` (from now); fills Cast.final.
        Raises AssertionError naming how many stayed pending / unknown."""
        deadline = time.monotonic() + timeout
        pending = [c for c in self.accepted_202() if c.final is None]
        while pending:
            still = []
            for c in pending:
                try:
                    r = self.client(api).get(f"/api/v1/vote/{c.request_id}")
                except Exception:  # noqa: BLE001
                    still.append(c)
                    continue
                if r.status == 200 and r.json().get("status") in FINAL:
                    c.final = r.json()
                elif r.status == 404:
                    # The api writes `pending` before answering 202 (only_if_absent), so a
                    # request it answered is never unknown.
                    raise AssertionError(f"GET /api/v1/vote/{c.request_id} -> 404 after its 202")
                elif r.status in (200, 503):
                    if r.status == 200 and r.json().get("status") != "pending":
                        raise AssertionError(f"status outside the contract: {r}")
                    c.last = r
                    still.append(c)
                else:
                    raise AssertionError(f"GET /api/v1/vote/{c.request_id} -> {r}")
            pending = still
            if pending and time.monotonic() > deadline:
                sample = [(c.request_id, getattr(c, "last", None)) for c in pending[:3]]
                raise AssertionError(f"{len(pending)} votes answered 202 never reached a final "
                                     f"status within {timeout}s, e.g. {sample}")
            if pending:
                time.sleep(0.1)


# ---- the stores against the book ---------------------------------------------------------------

@dataclasses.dataclass
class Snapshot:
    audit: list  # (request_key, vote_hash, law_id, status, attempt_count)
    accepted: dict  # vote_hash -> (law_id, claim_tag)
    ballots: collections.Counter  # (law_id, choice) -> mixed ballots
    receipts: dict  # receipt -> law_id (the mixed ballots' receipts, kept apart from them)
    sealed: int  # ballots recorded, not yet mixed
    results: dict  # law_id -> (oui, non)
    redis: RedisClaims


class Ledger:
    """Reads and cross-checks PostgreSQL and Redis against a VoteBook."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    def read(self):
        c = self.cluster
        audit = [(k, h, law, st, int(n)) for k, h, law, st, n in c.pg(
            "SELECT request_key, vote_hash, law_id, status, attempt_count FROM vote_audit")]
        accepted = {h: (law, tag) for h, law, tag in c.pg(
            "SELECT vote_hash, law_id, claim_tag FROM accepted_credentials")}
        ballots = collections.Counter({(law, ch): int(n) for law, ch, n in c.pg(
            "SELECT law_id, choice, count(*) FROM ballots GROUP BY law_id, choice")})
        receipts = {r: law for r, law in c.pg("SELECT receipt, law_id FROM receipts")}
        sealed = int(c.pg("SELECT count(*) FROM sealed_ballots")[0][0])
        results = {law: (int(o), int(n)) for law, o, n in c.pg(
            "SELECT law_id, oui_count, non_count FROM vote_results")}
        return Snapshot(audit, accepted, ballots, receipts, sealed, results,
                        read_redis_claims(c.env))

    def wait_settled(self, book: VoteBook, timeout=30.0):
        """Waits until PostgreSQL holds an audit row for every 202 of the book (the aggregator
        writes asynchronously after the final status is in Redis) and the mixer has counted every
        sealed ballot (the cluster runs with --mix-size 1); returns the snapshot."""
        want = {status_key(x.request_id) for x in book.accepted_202()}
        deadline = time.monotonic() + timeout
        while True:
            keys = {row[0] for row in self.cluster.pg("SELECT request_key FROM vote_audit")}
            sealed = int(self.cluster.pg("SELECT count(*) FROM sealed_ballots")[0][0])
            if want <= keys and sealed == 0:
                return self.read()
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(want - keys)} of {len(want)} votes answered 202 have "
                                     f"no vote_audit row and {sealed} ballots are not mixed after "
                                     f"{timeout}s")
            time.sleep(0.1)

    def check(self, book: VoteBook, snap: Snapshot, unanswered_may_exist=False):
        """Asserts exactly-once and audit guarantees; returns a summary dict.

        `unanswered_may_exist`: some POSTs got no 202 (503 / no answer) yet may have reached the
        broker (a confirm lost on the way); their audit rows are allowed, at most one per such
        POST, and their effects (a ballot, a claim) are accounted separately."""
        casts = book.accepted_202()
        for x in casts:
            if x.final is None:
                raise AssertionError("check() before wait_all_final()")
        problems = []
        by_key = {status_key(x.request_id): x for x in casts}

        # 1. vote_audit: one row per request, matching the final status.
        keys = [row[0] for row in snap.audit]
        dup_keys = [k for k, n in collections.Counter(keys).items() if n > 1]
        if dup_keys:
            problems.append(f"{len(dup_keys)} request keys have several audit rows")
        audit_by_key = {row[0]: row for row in snap.audit}
        missing = [k for k in by_key if k not in audit_by_key]
        if missing:
            problems.append(f"{len(missing)} votes answered 202 have no audit row")
        extra = [row for row in snap.audit if row[0] not in by_key]
        unanswered = [x for x in book.casts if x.request_id is None and x.http_status != 400]
        if extra and not unanswered_may_exist:
            problems.append(f"{len(extra)} audit rows for requests the test never got a 202 for")
        if len(extra) > len(unanswered):
            problems.append(f"{len(extra)} audit rows without a 202, but only {len(unanswered)} "
                            "POSTs went unanswered")
        for k, x in by_key.items():
            row = audit_by_key.get(k)
            if row is None:
                continue
            _, h, law, st, n = row
            if (h, law, st) != (x.digest, x.law_id, x.final["status"]):
                problems.append(f"audit row {(h[:12], law, st)} differs from the vote "
                                f"{(x.digest[:12], x.law_id, x.final['status'])}")
            if st == "duplicate" and n != x.final.get("attempt_count"):
                problems.append(f"audit attempt_count {n} != status attempt_count "
                                f"{x.final.get('attempt_count')}")

        # 2. Final statuses: receipts are the request's, every accepted digest once.
        acc = [x for x in casts if x.final["status"] == "accepted"]
        for x in acc:
            if x.final.get("receipt") != receipt(x.request_id):
                problems.append(f"receipt {x.final.get('receipt')} is not the request's")
        per_digest = collections.Counter(x.digest for x in acc)
        twice = [d for d, n in per_digest.items() if n > 1]
        if twice:
            problems.append(f"{len(twice)} credentials were accepted more than once")
        registry = book.cluster.electorate.registry
        for x in casts:
            eligible = registry.is_registered(x.nas, x.code, x.law_id)
            if x.final["status"] == "invalid" and eligible:
                problems.append("an eligible credential was answered invalid")
            if x.final["status"] != "invalid" and not eligible:
                problems.append(f"an ineligible credential was answered {x.final['status']}")

        # Votes without a 202 that the pipeline recorded anyway (only when allowed above).
        extra_accepted = {row[1]: row for row in extra if row[3] == "accepted"}

        # 3. The voted set: audit alone == accepted_credentials == Redis claims == the 202s.
        want = {x.digest: x for x in acc}
        from_audit = {row[1] for row in snap.audit if row[3] == "accepted"}
        if from_audit != set(want) | set(extra_accepted):
            problems.append(f"voted set rebuilt from vote_audit ({len(from_audit)}) != accepted "
                            f"votes ({len(want)} answered 202 + {len(extra_accepted)} unanswered)")
        if set(snap.accepted) != from_audit:
            problems.append(f"accepted_credentials ({len(snap.accepted)}) != voted set from "
                            f"vote_audit ({len(from_audit)})")
        for h, x in want.items():
            got = snap.accepted.get(h)
            if got is not None and got != (x.law_id, claim_tag(x.request_id)):
                problems.append(f"accepted_credentials row {got} is not the accepted request's")
        redis_set = set(snap.redis.claims)
        audit_suffixes = {h[32:] for h in from_audit}
        if redis_set != audit_suffixes:
            problems.append(f"Redis claims ({len(redis_set)}) != voted set from vote_audit "
                            f"({len(audit_suffixes)}): {len(redis_set - audit_suffixes)} only in "
                            f"Redis, {len(audit_suffixes - redis_set)} only in the audit")
        # Attempts: every 202 is one attempt; a POST left unanswered may or may not be one.
        attempts = collections.Counter(x.digest for x in casts)
        maybe = collections.Counter(x.digest for x in unanswered) if unanswered_may_exist \
            else collections.Counter()
        for h, x in want.items():
            got = snap.redis.claims.get(h[32:])
            if got is None:
                continue
            if got[0] != claim_tag(x.request_id):
                problems.append("a Redis claim holds another request's tag than the accepted one")
            if not attempts[h] <= got[1] <= attempts[h] + maybe[h]:
                problems.append(f"Redis counts {got[1]} attempts for a credential the test "
                                f"tried {attempts[h]} times (+{maybe[h]} unanswered)")
        if snap.redis.eligible != book.cluster.voters * len(book.cluster.law_ids):
            problems.append(f"Redis holds {snap.redis.eligible} eligible digests, expected "
                            f"{book.cluster.voters * len(book.cluster.law_ids)}")

        # 4. Ballots, mixed (docs/ballot-secrecy.md): one receipt per accepted vote, kept apart
        # from the ballots; as many ballots of each (law, choice) as accepted votes; tallies =
        # ballots; nothing left sealed.
        if snap.sealed:
            problems.append(f"{snap.sealed} ballots are still sealed (not mixed)")
        want_receipts = {receipt(x.request_id): x.law_id for x in acc}
        for r, law in want_receipts.items():
            if snap.receipts.get(r) != law:
                problems.append(f"receipt {r}: {snap.receipts.get(r)} != {law}")
        others = [r for r in snap.receipts if r not in want_receipts]
        if len(others) != len(extra_accepted):
            problems.append(f"{len(others)} receipts without an accepted 202, "
                            f"{len(extra_accepted)} unanswered accepted audit rows")
        for law in book.cluster.law_ids:
            got = snap.results.get(law, (0, 0))
            from_b = (snap.ballots[(law, "oui")], snap.ballots[(law, "non")])
            if got != from_b:
                problems.append(f"vote_results {law} = {got} but ballots say {from_b}")
            sent = (sum(1 for x in acc if x.law_id == law and x.choice == "oui"),
                    sum(1 for x in acc if x.law_id == law and x.choice == "non"))
            if not extra_accepted and got != sent:
                problems.append(f"vote_results {law} = {got}, accepted votes sent = {sent}")
        if sum(snap.ballots.values()) != len(snap.receipts):
            problems.append(f"{sum(snap.ballots.values())} ballots but {len(snap.receipts)} "
                            "receipts")

        if problems:
            raise AssertionError("stores disagree with the votes sent:\n  " +
                                 "\n  ".join(problems[:30]))
        return {"answered_202": len(casts), "accepted": len(acc),
                "duplicate": sum(1 for x in casts if x.final["status"] == "duplicate"),
                "invalid": sum(1 for x in casts if x.final["status"] == "invalid"),
                "unanswered_recorded": len(extra)}

    def check_api_results(self, book: VoteBook, snap: Snapshot):
        """GET /api/v1/results on every api == vote_results."""
        for i, cl in enumerate(book.clients):
            for law in book.cluster.law_ids:
                r = cl.get(f"/api/v1/results/{law}")
                if r.status != 200:
                    raise AssertionError(f"api {i}: GET /api/v1/results/{law} -> {r}")
                b = r.json()
                if (b["oui"], b["non"]) != snap.results.get(law, (0, 0)):
                    raise AssertionError(f"api {i} results {b} != vote_results "
                                         f"{snap.results.get(law)}")


# ---- module fixture ----------------------------------------------------------------------------

def module_cluster(name, **kwargs):
    """Starts a Cluster for one test module and makes sure it is stopped however the module ends:
    unittest module cleanup (runs even when setUpModule fails), atexit, and SIGTERM/SIGINT turned
    into SystemExit (so ctest's timeout or ^C still stops the servers)."""
    import atexit
    import unittest

    cluster = Cluster(name, **kwargs)

    def stop():
        problems = cluster.stop()
        if problems:
            log(f"{name}: stopping the cluster reported: {problems}")

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(stop)
    unittest.addModuleCleanup(stop)
    cluster.start()
    return cluster


def fresh_votes(book, n, law_ids=None, rng=None, api=None):
    """n (voter, law, choice) triples of never-used voters (each voter on one law)."""
    import random as _random
    rng = rng or _random.Random()
    law_ids = law_ids or book.cluster.law_ids
    out = []
    for i in range(n):
        law = law_ids[i % len(law_ids)]
        out.append((book.voter((law,)), law, rng.choice(("oui", "non"))))
    return out


def send_parallel(book, triples, threads=8, api_of=lambda i: i):
    """Sends (voter, law, choice) triples from `threads` threads with keep-alive connections;
    returns the Casts in input order."""
    out = [None] * len(triples)

    def worker(k):
        conns = {}
        try:
            for i in range(k, len(triples), threads):
                voter, law, choice = triples[i]
                api = api_of(i) % len(book.clients)
                if api not in conns:
                    conns[api] = book.client(api).keep_alive(timeout=15)
                try:
                    out[i] = book.send(voter.nas, voter.code, law, choice, conn=conns[api])
                except Exception:  # noqa: BLE001
                    conns.pop(api, None)
                    raise
                if out[i].http_status is None:  # the connection is unusable now
                    conns.pop(api, None)
        finally:
            for c in conns.values():
                c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return out

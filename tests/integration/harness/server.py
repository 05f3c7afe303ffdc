"""Fixtures that run the real `scrutin` binary: an electorate, a ballot, an embedded server.

Electorate: a temporary registry (`voters generate`), election key (`keygen`) and eligibility
database (`hashgen`). Ballot: a laws.toml whose windows are relative to now (open, closed, not yet
open, embargoed). Server: `scrutin serve` on a free loopback port, logs appended to one file across
restarts, ready when GET /api/v1/health answers 200; stopped with SIGTERM (must exit 0) or SIGKILL.

Failures raise HarnessError with the command line and the tail of its output, so a broken fixture
reads as a clear test error instead of a hang.
"""

import dataclasses
import datetime
import glob
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from . import credentials

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class HarnessError(RuntimeError):
    pass


def find_binary():
    """The scrutin binary: $SCRUTIN_BIN, else the newest build/*/src/apps/scrutin."""
    env = os.environ.get("SCRUTIN_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise HarnessError(f"SCRUTIN_BIN={env} is not an executable file")
        return env
    found = [p for p in glob.glob(os.path.join(REPO_ROOT, "build", "*", "src", "apps", "scrutin"))
             if os.access(p, os.X_OK)]
    if not found:
        raise HarnessError("no scrutin binary: build it (cmake --build ... --target scrutin) "
                           "or set SCRUTIN_BIN")
    return max(found, key=os.path.getmtime)


def read_env_file(path):
    """KEY=VALUE lines of a shell-sourceable file (scripts/cluster's cluster.env, scripts/servers'
    env files), as bash sees them after `source`."""
    names = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", line)
            if m:
                names.append(m.group(1))
    script = 'set -a; source "$1"; for n in "${@:2}"; do printf "%s=%s\\0" "$n" "${!n}"; done'
    p = subprocess.run(["bash", "-c", script, "env", path, *names], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    if p.returncode != 0:
        raise HarnessError(f"cannot source {path}: {p.stderr.decode(errors='replace')}")
    out = {}
    for item in p.stdout.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            out[k.decode()] = v.decode()
    return out


def run(args, timeout=120):
    """Runs a command to completion; raises HarnessError (with its output) when it fails."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    if p.returncode != 0:
        out = p.stdout.decode("utf-8", errors="replace")[-2000:]
        raise HarnessError(f"{' '.join(map(str, args))} exited {p.returncode}:\n{out}")
    return p.stdout.decode("utf-8", errors="replace")


def free_port():
    """A TCP port free on 127.0.0.1 right now (another process may still take it; Server.start
    retries on a bind failure)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rfc3339(t: datetime.datetime) -> str:
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(s: str) -> datetime.datetime:
    """Parses RFC 3339 with 'Z' or an offset and optional fractional seconds; raises ValueError."""
    if not isinstance(s, str) or "T" not in s.upper():
        raise ValueError(f"not an RFC 3339 date-time: {s!r}")
    t = s.replace("z", "Z")
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    # Python 3.11's fromisoformat accepts any number of fraction digits; trim for older versions.
    if "." in t:
        head, rest = t.split(".", 1)
        frac = ""
        while rest and rest[0].isdigit():
            frac += rest[0]
            rest = rest[1:]
        t = f"{head}.{(frac + '000000')[:6]}{rest}"
    d = datetime.datetime.fromisoformat(t)
    if d.tzinfo is None:
        raise ValueError(f"RFC 3339 date-time without offset: {s!r}")
    return d


@dataclasses.dataclass
class LawSpec:
    law_id: str
    title_fr: str
    title_en: str
    opens_at: datetime.datetime
    closes_at: datetime.datetime
    results: str = "live"  # or "after_close"

    def toml(self):
        return (
            "[[law]]\n"
            f'id = "{self.law_id}"\n'
            f'title_fr = "{self.title_fr}"\n'
            f'title_en = "{self.title_en}"\n'
            f'opens_at = "{rfc3339(self.opens_at)}"\n'
            f'closes_at = "{rfc3339(self.closes_at)}"\n'
            f'results = "{self.results}"\n'
        )


def standard_ballot(now=None):
    """The ballot every suite uses, by role: two open laws with live results, one closed, one not
    yet open, one open with results embargoed until close."""
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    day = datetime.timedelta(days=1)
    return {
        "open_a": LawSpec("L2026-001", "Loi sur les essais A", "Act respecting tests A",
                          now - day, now + 2 * day),
        "open_b": LawSpec("L2026-002", "Loi sur les essais B", "Act respecting tests B",
                          now - day, now + 2 * day),
        "closed": LawSpec("L2026-003", "Loi close", "Closed act", now - 3 * day, now - day),
        "future": LawSpec("L2026-004", "Loi future", "Future act", now + day, now + 2 * day),
        "embargoed": LawSpec("L2026-005", "Loi sous embargo", "Embargoed act",
                             now - day, now + 2 * day, "after_close"),
    }


def write_laws(path, laws):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Written by tests/integration/harness for one test run.\n\n")
        f.write("\n".join(law.toml() for law in laws))
    return path


class Electorate:
    """A generated registry, key and eligibility database in `root` (created if needed)."""

    def __init__(self, root, law_ids, count=2000, seed=20261101, scheme="hmac-sha256",
                 fmt="bin", binary=None):
        self.binary = binary or find_binary()
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.voters_csv = os.path.join(root, "voters.csv")
        self.key_file = os.path.join(root, "election.key")
        self.hashes_dir = os.path.join(root, "hashes")
        self.scheme = scheme
        law_args = []
        for law in law_ids:
            law_args += ["--law", law]
        run([self.binary, "voters", "generate", "--count", str(count), *law_args,
             "--seed", str(seed), "--out", self.voters_csv])
        cmd = [self.binary, "hashgen", "--voters", self.voters_csv, "--scheme", scheme,
               "--out", self.hashes_dir, "--format", fmt]
        if scheme == "hmac-sha256":
            run([self.binary, "keygen", "--out", self.key_file])
            cmd += ["--key-file", self.key_file]
        else:
            self.key_file = None
        run(cmd)
        self.registry = credentials.Registry.load(self.voters_csv)


def http_status(url, timeout=2.0):
    """The HTTP status of GET url, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


# serve flags that turn off the per-client and per-credential allowances, for load tests driven
# from one address (the abuse suite tests those allowances at their defaults).
NO_CLIENT_LIMITS = ("--client-vote-rate", "0", "--client-read-rate", "0",
                    "--credential-attempts", "0", "--max-connections-per-client", "0")


class Server:
    """`scrutin serve` as a child process. Not thread-safe (one test thread drives it).

    `rate_limit=None` leaves --rate-limit (like every flag not given) at serve's default; the
    default 0 turns the limit off for suites that send more than a voter would. `preexec_fn` runs
    in the child before exec (e.g. to lower its file limit as a systemd unit would)."""

    def __init__(self, electorate: Electorate, laws_file, data_dir, log_path, rate_limit=0,
                 threads=None, extra_args=(), env=None, flags_via_env=False, preexec_fn=None,
                 mix_size=1):
        self.electorate = electorate
        self.laws_file = laws_file
        self.data_dir = data_dir
        self.log_path = log_path
        self.rate_limit = rate_limit
        self.threads = threads
        self.extra_args = list(extra_args)
        self.env = env
        # True: pass every flag as SCRUTIN_<FLAG> instead of on the command line.
        self.flags_via_env = flags_via_env
        self.preexec_fn = preexec_fn
        # The mixer's k (docs/ballot-secrecy.md). 1 by default: the suites that count every vote
        # at once; the secrecy suite runs with a real k. None: serve's default.
        self.mix_size = mix_size
        self.proc = None
        self.port = None
        os.makedirs(data_dir, exist_ok=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def flags(self):
        flags = {"hashes": self.electorate.hashes_dir, "laws": self.laws_file,
                 "data": self.data_dir, "listen": f"127.0.0.1:{self.port}"}
        if self.rate_limit is not None:
            flags["rate-limit"] = str(self.rate_limit)
        if self.electorate.key_file:
            flags["key-file"] = self.electorate.key_file
        if self.threads:
            flags["threads"] = str(self.threads)
        if self.mix_size is not None:
            flags["mix-size"] = str(self.mix_size)
        return flags

    def command(self):
        cmd = [self.electorate.binary, "serve"]
        if not self.flags_via_env:
            for k, v in self.flags().items():
                cmd += [f"--{k}", v]
        return cmd + self.extra_args

    def flag_env(self):
        """SCRUTIN_<FLAG> variables for flags_via_env (e.g. SCRUTIN_RATE_LIMIT)."""
        if not self.flags_via_env:
            return {}
        return {"SCRUTIN_" + k.upper().replace("-", "_"): v for k, v in self.flags().items()}

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - n))
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return "(no log)"

    def spawn(self, new_port=False):
        """Starts the process without waiting for readiness (e.g. to kill it during start-up).
        Keeps the previous port unless `new_port` (clients keep their base URL)."""
        if self.proc is not None and self.proc.poll() is None:
            raise HarnessError("server already running")
        env = dict(os.environ)
        # The suite's own flags must win over whatever SCRUTIN_* the caller's shell exports.
        for k in list(env):
            if k.startswith("SCRUTIN_") and k != "SCRUTIN_BIN":
                del env[k]
        env.update(self.env or {})
        if self.port is None or new_port:
            self.port = free_port()
        env.update(self.flag_env())
        with open(self.log_path, "ab") as log:
            log.write(f"\n# harness: starting {' '.join(self.command())}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, env=env,
                                         stdin=subprocess.DEVNULL, preexec_fn=self.preexec_fn)
        return self

    def output_since_spawn(self):
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode("utf-8", errors="replace")

    def start(self, timeout=30.0):
        """Starts the server and waits until /api/v1/health answers 200; on a port taken
        meanwhile by someone else, retries on another port. Raises HarnessError (with the log)
        when it exits or stays unhealthy."""
        for attempt in range(3):
            self.spawn(new_port=attempt > 0)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if http_status(self.base_url + "/api/v1/health", timeout=1.0) == 200:
                    return self
                time.sleep(0.05)
            else:
                self.kill()
                raise HarnessError(f"scrutin serve not healthy after {timeout}s:\n"
                                   f"{self.log_tail()}")
            if "in use" not in self.output_since_spawn().lower():
                break
        raise HarnessError(f"scrutin serve exited {self.proc.returncode} during start-up:\n"
                           f"{self.log_tail()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code (the contract says 0). Kills after `timeout`."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise HarnessError(f"scrutin serve ignored SIGTERM for {timeout}s (killed):\n"
                                   f"{self.log_tail()}")
        return self.proc.returncode

    def kill(self):
        """SIGKILL (a crash) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()

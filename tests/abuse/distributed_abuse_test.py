"""Abuse suite, distributed shape: the `scrutin api` front door under a GET flood and with its
PostgreSQL stalled (README "Limits at the front door" and "The distributed shape": no api request
waits on a backend on an HTTP thread).

One throw-away cluster (tests/distributed/harness_cluster.py: PostgreSQL, Redis, RabbitMQ, one
aggregator, two validators, one api). The api is restarted with a soft file limit of 1024 (as under
a systemd unit). Then, while an honest voter on 127.0.0.2 casts ~10 votes a second, each with a
fresh credential on a fresh connection (tests/abuse/abuse_kit.HonestVoter):

(a) GET flood: attacker threads on 127.0.0.1 pipeline GET /api/v1/results/{law} and
    GET /api/v1/vote/{id} on keep-alive connections as fast as the api answers. Passes when >= 99%
    of the honest votes get 202 within 1 s: reads are served from the tally cache and a bounded
    lookup pool, never by waiting on a backend on an HTTP thread.
(b) PostgreSQL stalled: every process of the cluster's PostgreSQL instance gets SIGSTOP (SIGCONT in
    a `finally`, always). Votes still get 202 within 1 s (they go to RabbitMQ and Redis, not
    PostgreSQL); every results, status and health request from 127.0.0.2 is answered within 1 s;
    results are the cached value or, once it is older than the 5 s bound, 503 + Retry-After (never
    a stale number past it); the public health turns 503 saying only "failing", while the admin
    port's /health names the cause. After SIGCONT the results come back.

Each part prints one `ABUSE-FIGURES {json}` line (honest success rate and p99, api CPU as % of
one core, what the attacker or the poller got) for bench/RESULTS.md.

Python 3 standard library only; run with /usr/bin/python3. SCRUTIN_KEEP_TMP=1 keeps the files.
"""

import collections
import http.client
import json
import os
import resource
import signal
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "distributed"))

import abuse_kit as kit  # noqa: E402
import harness_cluster as hc  # noqa: E402

FLOOD_SECONDS = 20.0
FLOOD_THREADS = 12
STALL_SECONDS = 16.0
TALLY_MAX_AGE = 5.0  # src/apps/api_command.cpp kTallyMaxAge: results older than this are 503
FAST = 1.0  # every answer from the api, even with PostgreSQL stalled, within this many seconds

C = None  # the cluster


def setUpModule():
    global C
    C = hc.module_cluster("abuse", apis=1, validators=2, aggregators=1, voters=1200)
    restart_api_with_soft_file_limit()


def restart_api_with_soft_file_limit():
    """Restarts api-1 with a soft RLIMIT_NOFILE of 1024: scripts/cluster launches it from this
    process, so it inherits the limit set here for the duration of the restart."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = kit.SERVE_SOFT_NOFILE if hard == resource.RLIM_INFINITY else \
        min(kit.SERVE_SOFT_NOFILE, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        pid = C.restart("api-1")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    hc.log(f"api-1 restarted (pid {pid}) with a soft file limit of {limit}")


def api_port():
    return int(C.api_urls[0].rsplit(":", 1)[1])


def api_admin_url():
    urls = [u for u in C.env.get("API_ADMIN_URLS", "").split(",") if u]
    return urls[0] if urls else None


def postgres_pids():
    """The postmaster of the cluster's own PostgreSQL instance and all its children."""
    with open(os.path.join(C.dir, "pg", "data", "postmaster.pid"), encoding="ascii") as f:
        postmaster = int(f.readline().strip())
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:  # field 4: ppid
            pids.append(int(entry))
    return pids


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def get(port, path, source=kit.HONEST, timeout=3.0):
    """(status or error name, seconds, headers, body) of one GET on a fresh connection."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        return r.status, time.monotonic() - t0, r.headers, body
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__, time.monotonic() - t0, {}, b""
    finally:
        conn.close()


def cast_one(port, pool, law, source=kit.HONEST):
    """One honest vote; its request id (None when not 202)."""
    voter = pool.take([law])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/vote",
                     body=json.dumps({"nas": voter.nas, "code": voter.code, "law_id": law,
                                      "vote": "oui"}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        return json.loads(body)["request_id"] if r.status == 202 else None
    finally:
        conn.close()


class DistributedAbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pool = kit.harness.VoterPool(C.electorate.registry)
        cls.port = api_port()
        cls.known_id = cast_one(cls.port, cls.pool, hc.LAW_A)
        if cls.known_id is None:
            raise AssertionError("the api did not accept a vote before the attacks")

    def test_a_get_flood(self):
        port = self.port
        paths = [f"/api/v1/results/{hc.LAW_A}", f"/api/v1/results/{hc.LAW_B}",
                 f"/api/v1/vote/{self.known_id}"]
        paths += [f"/api/v1/vote/{uuid.uuid4()}" for _ in range(29)]
        requests = [kit.http_request("GET", p) for p in paths]
        stop = threading.Event()
        tally = kit.Tally()
        flooders = [threading.Thread(target=kit.pipelined_flood,
                                     args=(port, requests, stop, tally), daemon=True)
                    for _ in range(FLOOD_THREADS)]
        for t in flooders:
            t.start()
        time.sleep(1.0)  # the flood is on before the first honest vote
        cpu = kit.CpuMeter(C.pid("api-1")).start()
        try:
            honest = kit.HonestVoter(port, self.pool, hc.LAW_A).run(FLOOD_SECONDS)
        finally:
            cpu_pct = cpu.stop()
            stop.set()
            for t in flooders:
                t.join(10)
        counts, _ = tally.snapshot()
        answered = sum(v for k, v in counts.items() if k.isdigit())
        figures = kit.print_figures("distributed", "get_flood", honest, cpu_pct, tally,
                                    attacker_requests_per_s=round(answered / FLOOD_SECONDS))
        self.assertGreater(answered, 0, f"the flood got no answer at all: {counts}")
        self.assertGreaterEqual(figures["honest_success_rate"], kit.PASS_RATE, figures)

    def test_b_postgres_stalled(self):
        port = self.port
        admin = api_admin_url()
        pids = postgres_pids()
        hc.log(f"stalling PostgreSQL: SIGSTOP to {len(pids)} processes")
        polls = collections.defaultdict(list)  # kind -> [(t since stall, status, seconds, body)]
        problems = []
        stop = threading.Event()
        t_stall = None

        def poller():
            while not stop.is_set():
                for kind, path in (("results", f"/api/v1/results/{hc.LAW_A}"),
                                   ("status", f"/api/v1/vote/{self.known_id}"),
                                   ("health", "/api/v1/health")):
                    status, took, headers, body = get(port, path)
                    polls[kind].append((time.monotonic() - t_stall, status, took, body))
                    if status == 503 and not (headers.get("Retry-After") or kind == "health"):
                        problems.append(f"{path}: 503 without Retry-After")
                stop.wait(0.2)

        cpu = kit.CpuMeter(C.pid("api-1")).start()
        admin_during = None
        try:
            signal_all(pids, signal.SIGSTOP)
            t_stall = time.monotonic()
            poll = threading.Thread(target=poller, daemon=True)
            poll.start()
            honest = kit.HonestVoter(port, self.pool, hc.LAW_A).run(STALL_SECONDS)
            if admin:
                admin_during = get(int(admin.rsplit(":", 1)[1]), "/health", source="127.0.0.1")
            stop.set()
            poll.join(10)
        finally:
            cpu_pct = cpu.stop()
            stop.set()
            signal_all(pids, signal.SIGCONT)
            hc.log("PostgreSQL resumed (SIGCONT)")

        # After SIGCONT the results come back within a few refresh rounds.
        deadline = time.monotonic() + 20
        recovered = None
        while time.monotonic() < deadline:
            status, took, _, _ = get(port, f"/api/v1/results/{hc.LAW_A}")
            if status == 200:
                recovered = True
                break
            time.sleep(0.2)

        summary = {}
        for kind, rows in polls.items():
            summary[kind] = {
                "answers": dict(collections.Counter(str(s) for _, s, _, _ in rows)),
                "max_ms": round(1000 * max((took for _, _, took, _ in rows), default=0), 1)}
        tally = kit.Tally()
        figures = kit.print_figures("distributed", "postgres_stalled", honest, cpu_pct, tally,
                                    polls=summary)

        self.assertGreaterEqual(figures["honest_success_rate"], kit.PASS_RATE, figures)
        self.assertEqual(problems, [])
        for kind, rows in polls.items():
            self.assertTrue(rows, f"no {kind} poll")
            slow = [(round(t, 1), s, round(took, 2)) for t, s, took, _ in rows if took >= FAST]
            self.assertEqual(slow, [], f"{kind} requests slower than {FAST}s with PostgreSQL "
                                       f"stalled (t, status, seconds)")
            odd = [s for _, s, _, _ in rows if s not in (200, 503)]
            self.assertEqual(odd, [], f"{kind}: answers other than 200/503")
        # Results: the cached value, then 503 once it is older than the bound, never past it.
        late = [s for t, s, _, _ in polls["results"] if t > TALLY_MAX_AGE + 2.0]
        self.assertTrue(late, "no results poll late in the stall")
        self.assertEqual(set(late), {503},
                         f"results still answered 200 more than {TALLY_MAX_AGE + 2}s into the "
                         f"stall: a stale tally past the bound")
        # Public health: 503 with ok/failing only; the admin port has the details.
        late_health = [(s, b) for t, s, _, b in polls["health"] if t > 6.0]
        self.assertTrue(late_health and all(s == 503 for s, _ in late_health),
                        f"public health not 503 with PostgreSQL stalled: {late_health[:3]}")
        body = json.loads(late_health[-1][1])
        self.assertEqual(body["checks"].get("results"), "failing", body)
        self.assertEqual(set(body["checks"].values()) - {"ok", "failing"}, set(), body)
        if admin_during is not None:
            status, _, _, admin_body = admin_during
            self.assertEqual(status, 503, admin_body)
            detail = json.loads(admin_body)["checks"]["results"]
            self.assertNotIn(detail, ("ok", "failing"), "the admin health gives no detail")
        self.assertTrue(recovered, "results did not come back within 20 s of SIGCONT")


if __name__ == "__main__":
    unittest.main(verbosity=2)

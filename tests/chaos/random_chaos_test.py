#!/usr/bin/python3
"""Random chaos under load on the distributed shape (docs/architecture.md, "The failure model").

`scrutin loadgen` drives votes open loop (default 1,000/s for 180 s) at two apis while a seeded
random schedule strikes every 10 s:
- kill -9 one of: an api, a validator, the aggregator, Redis, RabbitMQ, PostgreSQL — each kind
  at least once when the run is long enough — then starts it again (`scripts/cluster
  restart-process`, the servers from their files);
- once: Redis FLUSHALL (every claim, status and eligibility marker gone), then one `scrutin
  ledger rebuild`, as docs/operations.md tells an operator to (the claims of votes that were on
  their way to PostgreSQL while it ran are re-asserted by the aggregator after its commit: the
  end check finds them in Redis or fails);
- once: the link between validator-1 and Redis cut for 10 s (nftables drops every packet both
  ways, so the validator's Redis calls hang instead of failing fast).

At the end, after the drain, what a voter and an auditor can see must hold:
- loadgen's verification: every vote answered 202 reached a final status (none pending, none
  unknown), no credential accepted twice, no registered credential whose vote got a 202 left
  uncounted, no unregistered one answered anything but invalid, and the published tallies moved by
  exactly the ground truth (a vote that got no answer, or a 5xx, may or may not count);
- the stores agree: one audit row per request, accepted audit rows = accepted_credentials =
  ballots = the tallies (per law and choice), Redis's claims = the accepted digests of the audit,
  every eligible digest still in Redis, no dead letter.

The seed is printed first; `SCRUTIN_CHAOS_SEED=N` (or --seed N) replays a schedule. Options
(`--duration`, `--rate`, `--report FILE`) make the same driver the soak (scripts/soak).
Exit status 0 when everything held, 1 otherwise (with what did not), 2 when the run could not
be set up.
"""

import argparse
import collections
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "distributed"))

import harness_cluster as hc  # noqa: E402
from harness_cluster import harness  # noqa: E402

KINDS = ("api", "validator", "aggregator", "redis", "rabbitmq", "postgres")
CUT_ALIAS = "127.0.0.7"  # validator-1 reaches Redis through this loopback address only
PERIOD_S = 10.0
CUT_S = 10.0
DRAIN_BOUND_S = 180.0  # for the broker's queues to empty after loadgen's verification


def log(msg):
    hc.log(f"chaos: {msg}")


# ---- the schedule --------------------------------------------------------------------------------

def make_schedule(rng, duration, period=PERIOD_S):
    """[(at_s, event)]: one event every `period` seconds from `period` to `duration - period`.
    One slot is the FLUSHALL + rebuild, one the cut link; the others kill -9 a process or a
    server: every kind once (in random order) while slots last, then kinds at random."""
    slots = [period * i for i in range(1, int(duration // period))]
    if len(slots) < 3:
        raise SystemExit(f"chaos: --duration {duration} leaves fewer than 3 slots of {period} s")
    special = rng.sample(range(len(slots)), 2)
    kinds = list(KINDS)
    rng.shuffle(kinds)
    events = []
    for i, at in enumerate(slots):
        if i == special[0]:
            events.append((at, ("flush",)))
        elif i == special[1]:
            events.append((at, ("cut", "validator-1")))
        else:
            kind = kinds.pop() if kinds else rng.choice(KINDS)
            target = {"api": f"api-{rng.randint(1, 2)}",
                      "validator": f"validator-{rng.randint(1, 2)}",
                      "aggregator": "aggregator-1"}.get(kind, kind)
            events.append((at, ("kill", target, round(rng.uniform(0.0, 2.0), 2))))
    return events


# ---- the cut link (nftables, loopback only) ------------------------------------------------------

class LinkCut:
    """Drops every packet between CUT_ALIAS and Redis's port, both ways, in a table of our own.
    Only validator-1 reaches Redis through CUT_ALIAS, so only its link is cut."""

    def __init__(self, redis_port):
        self.table = f"scrutin_chaos_{os.getpid()}"
        self.port = redis_port
        self.active = False
        if not shutil.which("nft"):
            raise harness.HarnessError("nft is missing: scripts/install-deps installs nftables")

    def _nft(self, *args):
        p = subprocess.run(["nft", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise harness.HarnessError(f"nft {' '.join(args)}: {p.stdout.decode(errors='replace')}")

    def cut(self):
        self._nft("add", "table", "ip", self.table)
        self.active = True
        self._nft("add", "chain", "ip", self.table, "out",
                  "{ type filter hook output priority 0 ; }")
        self._nft("add", "rule", "ip", self.table, "out", "ip", "daddr", CUT_ALIAS, "tcp",
                  "dport", str(self.port), "drop")
        self._nft("add", "rule", "ip", self.table, "out", "ip", "saddr", CUT_ALIAS, "tcp",
                  "sport", str(self.port), "drop")

    def mend(self):
        if self.active:
            self._nft("delete", "table", "ip", self.table)
            self.active = False


# ---- the run -------------------------------------------------------------------------------------

class Chaos:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.rng = random.Random(self.seed)
        self.C = None
        self.cut = None
        self.events_done = []  # (at_s, description, seconds it took)
        self.kills = collections.Counter()  # target -> kill -9s
        self.max_queued = 0
        self.problems = []

    # -- servers and processes --

    def redis(self):
        host, port = hc.redis_nodes(self.C.env)[0]
        return hc.Resp(host, port)

    def bind_alias(self):
        """Redis also listens on CUT_ALIAS (lost when Redis restarts: applied again then)."""
        r = self.redis()
        try:
            r.command("CONFIG", "SET", "bind", f"127.0.0.1 {CUT_ALIAS}")
        finally:
            r.close()

    def route_validator_1_through_alias(self):
        path = os.path.join(self.C.dir, "validator-1.cmd")
        with open(path, encoding="utf-8") as f:
            cmd = f.read()
        redis_url = self.C.env["REDIS_URL"]
        if redis_url not in cmd:
            raise harness.HarnessError(f"{redis_url} not in validator-1.cmd: {cmd}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(cmd.replace(redis_url, redis_url.replace("127.0.0.1", CUT_ALIAS)))
        self.C.restart("validator-1")

    def server_pid(self, kind):
        self.C.reload_env()
        key = {"redis": "REDIS_PID", "rabbitmq": "RABBITMQ_PID", "postgres": "PG_PID"}[kind]
        return int(self.C.env[key])

    def kill_and_restart(self, target, down_s):
        if target in ("redis", "rabbitmq", "postgres"):
            pid = self.server_pid(target)
            os.kill(pid, signal.SIGKILL)
            if not hc.wait_gone(pid, 30):
                raise AssertionError(f"{target} (pid {pid}) alive 30 s after SIGKILL")
            time.sleep(down_s)
            name = {"redis": "redis", "rabbitmq": "rmq", "postgres": "pg"}[target]
            self.C._script([hc.CLUSTER_SCRIPT, "restart-process", self.C.dir, name], 300)
            self.C.reload_env()
            if target == "redis":
                self.bind_alias()
        else:
            self.C.kill(target, signal.SIGKILL)
            time.sleep(down_s)
            self.C.restart(target, timeout=180)

    def flush_and_rebuild(self):
        r = self.redis()
        try:
            r.command("FLUSHALL")
        finally:
            r.close()
        time.sleep(3.0)  # votes keep arriving: the validators must hold them, not decide
        return self.rebuild()

    def rebuild(self):
        """`scrutin ledger rebuild`, as an operator runs it; returns its summary line."""
        env = self.C.env
        p = subprocess.run([self.C.binary, "ledger", "rebuild", "--redis", env["REDIS_TARGET"],
                            "--hashes", env["HASHES_DIR"], "--pg", env["PG_URL"]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300,
                           env=hc.clean_env())
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0:
            raise AssertionError(f"ledger rebuild exited {p.returncode}:\n{out[-2000:]}")
        last = [line for line in out.splitlines() if line.strip()][-1:]
        return last[0] if last else ""

    def cut_link(self):
        self.cut.cut()
        try:
            time.sleep(CUT_S)
        finally:
            self.cut.mend()

    # -- sampling the backlog --

    def sample_queues(self, stop):
        """Largest number of messages waiting in the broker (ready + unacknowledged), sampled
        every few seconds (each rabbitmqctl call boots an Erlang VM: not more often)."""
        every = 5.0 if self.args.duration <= 600 else 30.0
        while not stop.wait(every):
            try:
                total = self.queued()
            except Exception:  # noqa: BLE001 — the broker may be the one just killed
                continue
            self.max_queued = max(self.max_queued, total)

    # -- the whole run --

    def run(self):
        a = self.args
        laws = (hc.LAW_A, hc.LAW_B)
        # Rows the valid share of the mix consumes (90%), with room to spare.
        voters = math.ceil(a.rate * a.duration * 0.95 / len(laws)) + 2000
        schedule = make_schedule(self.rng, a.duration)
        log(f"seed {self.seed} (replay: SCRUTIN_CHAOS_SEED={self.seed}); {a.rate:g} votes/s for "
            f"{a.duration:g} s; {len(schedule)} events:")
        for at, ev in schedule:
            log(f"  t={at:5.0f}s  {' '.join(str(x) for x in ev)}")
        self.C = hc.module_cluster(
            "random", apis=2, validators=2, aggregators=1, voters=voters, law_ids=laws,
            start_timeout=600,
            cluster_args=["--api-flags", " ".join(harness.NO_CLIENT_LIMITS)])
        C = self.C
        self.bind_alias()
        self.route_validator_1_through_alias()
        self.cut = LinkCut(int(hc.redis_nodes(C.env)[0][1]))

        report_path = os.path.join(C.tmp, "loadgen.json")
        lg_cmd = [C.binary, "loadgen", *sum((["--target", u] for u in C.api_urls), []),
                  "--voters", C.electorate.voters_csv, "--rate", f"{a.rate:g}",
                  "--duration", f"{a.duration:g}", "--connections", "64", "--verify",
                  "--verify-timeout", str(int(a.verify_timeout)), "--seed", str(self.seed),
                  "--json", report_path]
        lg_log = open(os.path.join(C.tmp, "loadgen.log"), "wb")
        stop = threading.Event()
        sampler = threading.Thread(target=self.sample_queues, args=(stop,), daemon=True)
        t0 = time.monotonic()
        lg = subprocess.Popen(lg_cmd, stdout=lg_log, stderr=subprocess.STDOUT,
                              env=hc.clean_env())
        sampler.start()
        try:
            for at, ev in schedule:
                delay = t0 + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if lg.poll() is not None:
                    raise AssertionError(f"loadgen exited {lg.returncode} during the run")
                started = time.monotonic()
                if ev[0] == "kill":
                    self.kill_and_restart(ev[1], ev[2])
                    self.kills[ev[1]] += 1
                    what = f"kill -9 {ev[1]}, down {ev[2]:g} s, restarted"
                elif ev[0] == "flush":
                    summary = self.flush_and_rebuild()
                    what = f"FLUSHALL, ledger rebuild: {summary}"
                else:
                    self.cut_link()
                    what = f"link {ev[1]} <-> Redis cut for {CUT_S:g} s"
                took = time.monotonic() - started
                self.events_done.append((round(started - t0, 1), what, round(took, 1)))
                log(f"t={started - t0:6.1f}s {what} ({took:.1f} s)")
            rc = lg.wait(timeout=a.duration + a.verify_timeout + 300)
        finally:
            stop.set()
            if self.cut is not None:
                self.cut.mend()
            if lg.poll() is None:
                lg.kill()
                lg.wait()
            lg_log.close()
        drained = time.monotonic() - t0 - a.duration
        with open(os.path.join(C.tmp, "loadgen.log"), encoding="utf-8", errors="replace") as f:
            lg_out = f.read()
        if not os.path.exists(report_path):
            raise AssertionError(f"loadgen exited {rc} without a report:\n{lg_out[-3000:]}")
        with open(report_path, encoding="utf-8") as f:
            rep = json.load(f)
        self.wait_queues_empty(DRAIN_BOUND_S)
        return self.check(rep, rc, lg_out, drained)

    # -- the verdict --

    def queued(self):
        """Messages (ready + unacknowledged) in the votes queues, votes.dead aside."""
        out = self.C.rabbitmqctl("list_queues", "name", "messages", timeout=30)
        total = 0
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0].startswith("votes."):
                if parts[0] != "votes.dead":
                    total += int(parts[1])
        return total

    def wait_queues_empty(self, bound_s):
        """loadgen waits for the votes it got a 202 for; a vote that got no answer or a 5xx may
        still be on its way (claimed by a validator, not yet recorded). The stores are compared
        once nothing is left in the broker, twice in a row a second apart."""
        deadline = time.monotonic() + bound_s
        empty_twice = 0
        while empty_twice < 2:
            n = self.queued()
            empty_twice = empty_twice + 1 if n == 0 else 0
            if time.monotonic() > deadline:
                self.problems.append(f"{n} messages still queued {bound_s:g} s after the load")
                return
            time.sleep(1.0)
        # The mixer (--mix-size 1) counts each recorded ballot right after its batch.
        while int(self.C.pg("SELECT count(*) FROM sealed_ballots")[0][0]) != 0:
            if time.monotonic() > deadline:
                self.problems.append(f"ballots still sealed {bound_s:g} s after the load")
                return
            time.sleep(0.2)

    def check(self, rep, rc, lg_out, drained):
        C = self.C
        problems = self.problems
        verify = rep.get("verify") or {}
        if rc != 0 or not verify.get("ok"):
            problems.append(f"loadgen verification failed (exit {rc}): "
                            f"{verify.get('mismatches') or lg_out[-2000:]}")
        audit = C.pg("SELECT count(*), count(DISTINCT request_key), "
                     "count(*) FILTER (WHERE status = 'accepted') FROM vote_audit")[0]
        n_audit, n_keys, n_acc_audit = (int(x) for x in audit)
        n_claims = int(C.pg("SELECT count(*) FROM accepted_credentials")[0][0])
        ballots = {(law, ch): int(n) for law, ch, n in C.pg(
            "SELECT law_id, choice, count(*) FROM ballots GROUP BY 1, 2")}
        results = {law: (int(o), int(n)) for law, o, n in C.pg(
            "SELECT law_id, oui_count, non_count FROM vote_results")}
        if n_audit != n_keys:
            problems.append(f"{n_audit - n_keys} requests have more than one audit row")
        if n_acc_audit != n_claims:
            problems.append(f"accepted audit rows {n_acc_audit} != accepted_credentials {n_claims}")
        if sum(ballots.values()) != n_claims:
            problems.append(f"ballots {sum(ballots.values())} != accepted_credentials {n_claims}")
        for law in C.law_ids:
            got = results.get(law, (0, 0))
            want = (ballots.get((law, "oui"), 0), ballots.get((law, "non"), 0))
            if got != want:
                problems.append(f"vote_results {law} {got} != ballots {want}")
        accepted_digests = {h for (h,) in C.pg(
            "SELECT vote_hash FROM vote_audit WHERE status = 'accepted'")}
        redis = hc.read_redis_claims(C.env)
        suffixes = {h[32:] for h in accepted_digests}
        if set(redis.claims) != suffixes:
            problems.append(f"Redis claims ({len(redis.claims)}) != accepted digests of the audit "
                            f"({len(suffixes)}): {len(set(redis.claims) - suffixes)} only in "
                            f"Redis, {len(suffixes - set(redis.claims))} only in the audit")
        if redis.eligible != C.voters * len(C.law_ids):
            problems.append(f"Redis holds {redis.eligible} eligible digests, expected "
                            f"{C.voters * len(C.law_ids)}")
        dead = self.dead_letters()
        if dead:
            problems.append(f"{dead} votes dead-lettered")
        failures = rep.get("failures", {})
        summary = {
            "seed": self.seed, "rate": self.args.rate, "duration_s": self.args.duration,
            "sent": rep.get("sent"), "answered": rep.get("answered"),
            "http_status": rep.get("http_status"),
            "answered_202": rep.get("http_status", {}).get("202", 0),
            "final_status": verify.get("final_status"),
            "no_answer": failures.get("timeout", 0) + failures.get("io", 0),
            "audit_rows": n_audit, "accepted": n_claims,
            "events": self.events_done,
            "kills": dict(self.kills),
            "max_queued_messages": self.max_queued,
            "drain_s": round(drained, 1),
            # loadgen's verification says whether a 202 went uncounted or a credential counted
            # twice; store disagreements (problems) are reported apart.
            "lost": 0 if verify.get("ok") else None, "double": 0 if verify.get("ok") else None,
            "problems": problems,
        }
        return summary

    def dead_letters(self):
        p = subprocess.run([self.C.binary, "deadletter", "list", "--amqp", self.C.env["AMQP_URL"]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=hc.clean_env(),
                           timeout=60)
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0:
            self.problems.append(f"scrutin deadletter list exited {p.returncode}: {out[-500:]}")
            return 0
        # "deadletter: N messages listed (V votes), ..." is its closing line.
        for line in out.splitlines():
            if line.startswith("deadletter:") and "messages listed" in line:
                return int(line.split()[1])
        self.problems.append(f"scrutin deadletter list said nothing readable: {out[-500:]}")
        return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180)")
    ap.add_argument("--rate", type=float, default=1000.0, help="votes per second (default 1000)")
    ap.add_argument("--seed", type=int,
                    default=int(os.environ.get("SCRUTIN_CHAOS_SEED") or
                                random.SystemRandom().randrange(1, 2**31)))
    ap.add_argument("--verify-timeout", type=float, default=300.0,
                    help="seconds for every vote to become final after the load (default 300)")
    ap.add_argument("--report", help="also write the summary as JSON to this file")
    args = ap.parse_args(argv)
    chaos = Chaos(args)
    try:
        summary = chaos.run()
    except harness.HarnessError as e:
        log(f"could not set up the run (seed {args.seed}): {e}")
        return 2
    except AssertionError as e:
        log(f"FAILED (seed {args.seed}): {e}")
        return 1
    finally:
        if chaos.C is not None:
            chaos.C.stop()
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2, default=str)
    log("summary: " + json.dumps({k: v for k, v in summary.items() if k != "events"},
                                 default=str))
    if summary["problems"]:
        log(f"FAILED (seed {args.seed}; replay with SCRUTIN_CHAOS_SEED={args.seed}):\n  " +
            "\n  ".join(summary["problems"]))
        return 1
    log(f"passed (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The shape-independent HTTP contract suite (tests/integration/api_contract_test.py), run UNCHANGED
against the distributed shape (and, without --redis-cluster, the OpenAPI conformance suite and a
Prometheus started from deploy/prometheus scraping every process of the cluster):
a fresh electorate with the integration harness's standard ballot, `scripts/cluster start`
(PostgreSQL, Redis or a 3-master Redis Cluster, RabbitMQ, an aggregator, two validators, an api,
and a second api limited to 5 votes/s for the 429 case), the suites pointed at it through
SCRUTIN_BASE_URL and friends, then `scripts/cluster stop`.

With --redis-cluster it also checks that the ledger's buckets and the request statuses are spread
over every master of the cluster.

After the suite every scrutin process must stop gracefully (SIGTERM -> "stopped" logged, exit) and
no log line may carry an error-level event.

Usage: SCRUTIN_BIN=... /usr/bin/python3 tests/distributed/contract_test.py [--redis-cluster] [--tls]
(--tls: PostgreSQL, RabbitMQ and Redis TLS-only, every link verified; make test runs the Redis
Cluster variant that way)
SCRUTIN_KEEP_TMP=1 keeps the cluster directory (logs, servers' files).
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402
from harness import prometheus, server  # noqa: E402


def redis_cli(port, *args, ca=None):
    """redis-cli on one node; over TLS (its TLS port) when `ca` is given."""
    tls = ["--tls", "--cacert", ca] if ca else []
    out = subprocess.run(["redis-cli", *tls, "-h", "127.0.0.1", "-p", str(port), *args],
                         check=True, capture_output=True, text=True, timeout=30)
    return out.stdout


def check_spread(env):
    """Every master holds ledger buckets and request statuses."""
    problems = []
    nodes = env["REDIS_CLUSTER_NODES"].split(",")
    ca = env.get("TLS_CA") if env.get("REDIS_CLUSTER_URL", "").startswith("rediss") else None
    for node in nodes:
        port = node.rsplit(":", 1)[1]
        role = redis_cli(port, "ROLE", ca=ca).split("\n", 1)[0].strip()
        if role != "master":
            continue
        buckets = redis_cli(port, "--scan", "--pattern", "sc:{e:*", ca=ca).split()
        statuses = redis_cli(port, "--scan", "--pattern", "sc:s:*", ca=ca).split()
        print(f"redis master {node}: {len(buckets)} ledger buckets, {len(statuses)} statuses")
        if not buckets:
            problems.append(f"master {node} holds no ledger bucket")
        if not statuses:
            problems.append(f"master {node} holds no request status")
    if len(nodes) < 3:
        problems.append(f"expected 3 masters, REDIS_CLUSTER_NODES={env['REDIS_CLUSTER_NODES']}")
    return problems


def check_prometheus(tmp, cenv):
    """deploy/prometheus's configuration scrapes every process of the cluster: all up, the
    distributed shape's own series there, no alert pending or firing after the suites."""
    urls = [u for u in cenv["METRICS_URLS"].split(",") if u]
    targets = [u.split("://", 1)[1].rsplit("/metrics", 1)[0] for u in urls]
    prom_dir = os.path.join(tmp, "prometheus")
    os.makedirs(prom_dir)
    problems = []
    try:
        with prometheus.Prometheus(prom_dir, targets, labels={"shape": "distributed"}) as prom:
            prom.wait_for(lambda: len([s for s in prom.query('up{job="scrutin"} == 1')])
                          == len(targets), 60, f"not all of {targets} up in Prometheus")
            for name in ("rabbitmq_queue_depth", "redis_memory_used_bytes",
                         "postgres_connections", "votes_submitted_total"):
                if not prom.query(f'count({{__name__="{name}", job="scrutin"}})'):
                    problems.append(f"Prometheus scraped no {name} from the cluster")
            alerts = prom.query("ALERTS")  # firing or pending
            if alerts:
                problems.append(f"alerts on a healthy cluster: {alerts}")
            print(f"prometheus: {len(targets)} targets up, {len(prom.rule_names())} rules loaded")
    except harness.HarnessError as e:
        problems.append(str(e))
    return problems


def check_logs(cluster_dir):
    problems = []
    for path in sorted(glob.glob(os.path.join(cluster_dir, "*-[0-9]*.log"))):
        name = os.path.basename(path)[:-4]
        events = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    problems.append(f"{name}.log line {n} is not JSON: {line[:120]!r}")
        if not any(e.get("event") == "stopped" for e in events):
            problems.append(f"{name} did not log a graceful stop")
        for e in events:
            if e.get("level") == "error":
                problems.append(f"{name} logged an error: {e}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-cluster", action="store_true")
    ap.add_argument("--tls", action="store_true",
                    help="every backend link over verified TLS (scripts/cluster start --tls)")
    args = ap.parse_args()

    binary = server.find_binary()
    tmp = tempfile.mkdtemp(prefix="scrutin-dist-contract-")
    os.chmod(tmp, 0o755)  # PostgreSQL runs as its own user under it
    cluster_dir = os.path.join(tmp, "cluster")
    ballot = server.standard_ballot()
    electorate = server.Electorate(os.path.join(tmp, "electorate"),
                                   [law.law_id for law in ballot.values()], count=2000)
    laws_file = server.write_laws(os.path.join(tmp, "laws.toml"), ballot.values())

    cluster = os.path.join(ROOT, "scripts", "cluster")
    start = [cluster, "start", cluster_dir, "--bin", binary, "--laws", laws_file,
             "--hashes", electorate.hashes_dir, "--key-file", electorate.key_file,
             "--voters", electorate.voters_csv, "--limited-api", "5",
             # The contract counts each vote as it is cast: groups of one (tests/secrecy runs
             # the mixer with a real k).
             "--mix-size", "1"]
    if args.redis_cluster:
        start.append("--redis-cluster")
    if args.tls:
        start.append("--tls")
    env = dict(os.environ, SCRUTIN_RATE_LIMIT="0")
    env.pop("SCRUTIN_FAILPOINT", None)
    problems = []
    rc = 1
    try:
        subprocess.run(start, check=True, env=env, timeout=240)
        cenv = harness.read_env_file(os.path.join(cluster_dir, "cluster.env"))
        suite_env = dict(os.environ,
                         SCRUTIN_BIN=binary,
                         SCRUTIN_BASE_URL=cenv["API_URL"],
                         SCRUTIN_VOTERS_CSV=electorate.voters_csv,
                         SCRUTIN_METRICS_URLS=cenv["METRICS_URLS"],
                         SCRUTIN_RATE_LIMITED_URL=cenv["RATE_LIMITED_URL"],
                         PYTHONDONTWRITEBYTECODE="1")
        if cenv.get("API_URL", "").startswith("https://"):
            suite_env["SCRUTIN_CA_FILE"] = cenv["TLS_CA"]  # --tls: the apis serve HTTPS
        suite = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests", "integration", "api_contract_test.py")],
            env=suite_env, timeout=400)
        if suite.returncode != 0:
            problems.append(f"api_contract_test.py failed against the distributed shape "
                            f"(exit {suite.returncode})")
        if not args.redis_cluster:
            # Every live answer of the distributed api against docs/openapi.yaml too (the Redis
            # Cluster run is about where keys go; the HTTP answers are the same).
            conformance = subprocess.run(
                [sys.executable,
                 os.path.join(ROOT, "tests", "integration", "openapi_conformance_test.py")],
                env=suite_env, timeout=300)
            if conformance.returncode != 0:
                problems.append(f"openapi_conformance_test.py failed against the distributed "
                                f"shape (exit {conformance.returncode})")
        if args.redis_cluster:
            problems += check_spread(cenv)
        else:
            problems += check_prometheus(tmp, cenv)
    finally:
        stop = subprocess.run([cluster, "stop", cluster_dir], timeout=180)
        if stop.returncode != 0:
            problems.append(f"scripts/cluster stop exited {stop.returncode}")
        if os.path.isdir(cluster_dir):
            problems += check_logs(cluster_dir)
        for p in problems:
            print(f"FAIL: {p}", file=sys.stderr)
        rc = 1 if problems else 0
        if os.environ.get("SCRUTIN_KEEP_TMP") == "1" or rc != 0:
            print(f"cluster files kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())

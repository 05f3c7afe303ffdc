#!/usr/bin/python3
"""The Grafana dashboards of deploy/grafana/dashboards against a live system (ctest
deploy.dashboards).

Static checks of each dashboard's JSON: Grafana 11 model (schemaVersion 39), unique panel ids, the
`prometheus` data source (uid) on every panel, target and template variable, a description and a
unit on every panel, an expr on every target, and every metric name an expr uses exported by some
scrutin process's /metrics (or a Prometheus built-in: up, ALERTS, scrape_*).

Live check: the distributed shape from scripts/cluster (PostgreSQL, Redis, RabbitMQ, an
aggregator, two validators, an api over HTTPS, and an api limited to 5 votes/s for 429s; mixer
groups of one) plus an embedded `scrutin serve` (tiny commit queue and a per-client vote rate, so
that it answers some 503s and 429s scope client), all scraped by Debian's Prometheus with the
`role` label (api | validator | aggregator | serve) and deploy/prometheus/alerts.yml. The ballot
has a live law, an embargoed law that closes during the test (its tally appears, its record is
sealed) and a law closed before the start. `scrutin loadgen` sends a mix of valid, duplicate,
invalid and malformed votes to each entry point for about 35 s, and a validator is restarted on
the way (the restarts panel). Then every target of every panel, with the template variables
substituted ($__rate_interval, $__range = the test's span, $role/$instance = .*), is run through
Prometheus's /api/v1/query: a query error, or a target with no series, fails the test naming the
dashboard, the panel and the expr. Every variable's label_values() query must find values too.

Every process started here is stopped at the end, also on failure. About 2 minutes.
SCRUTIN_KEEP_TMP=1 keeps the directory (logs, Prometheus data, cluster files).
"""

import datetime
import glob
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import prometheus  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
DASHBOARDS = os.path.join(ROOT, "deploy", "grafana", "dashboards")
CLUSTER = os.path.join(ROOT, "scripts", "cluster")

LAW_LIVE = "L2026-201"      # open all along, results live
LAW_EMBARGO = "L2026-202"   # results after_close, closes during the test
LAW_CLOSED = "L2026-203"    # closed before the start (its record is sealed at once)
CLOSE_AFTER = 75            # seconds from the test's start to LAW_EMBARGO's close
LOAD_SECONDS = 35
RATE_INTERVAL = "20s"       # what Grafana gives $__rate_interval at a 2 s scrape (>= 4 scrapes)
SCRAPE = "2s"

BUILTIN_METRICS = {"up", "ALERTS", "ALERTS_FOR_STATE"}
BUILTIN_PREFIXES = ("scrape_",)
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "inf", "nan", "atan2", "start", "end"}


def log(msg):
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


# ---- the dashboards' JSON ----------------------------------------------------------------------

def load_dashboards():
    out = {}
    for path in sorted(glob.glob(os.path.join(DASHBOARDS, "*.json"))):
        with open(path, encoding="utf-8") as f:
            out[os.path.basename(path)] = json.load(f)
    return out


def all_panels(dashboard):
    """Every panel, rows' nested panels included."""
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


def panel_targets(dashboard):
    """(panel, target) for every query target."""
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            yield p, t


def metric_names(expr):
    """The metric names a PromQL expression selects (a lexical approximation that is exact for
    the dashboards' style: strings, label matchers, ranges, grouping clauses and function calls
    removed, then every remaining identifier is a metric name)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    names = set(re.findall(r'__name__\s*=~?\s*"([^"]*)"', expr))
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if word.lower() in PROMQL_WORDS:
            continue
        # A number's exponent (1e3) or a duration (5m) is not an identifier start here.
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue
        names.add(word)
    return names


def static_problems(dashboards, exported):
    problems = []
    if sorted(dashboards) != ["election-day.json", "operations.json"]:
        problems.append(f"expected election-day.json and operations.json, found {sorted(dashboards)}")
    uids = set()
    for name, d in dashboards.items():
        if d.get("schemaVersion") != 39:
            problems.append(f"{name}: schemaVersion {d.get('schemaVersion')}, expected 39")
        if not d.get("uid") or d["uid"] in uids:
            problems.append(f"{name}: missing or repeated dashboard uid {d.get('uid')!r}")
        uids.add(d.get("uid"))
        ids = [p.get("id") for p in all_panels(d)]
        dupes = sorted({i for i in ids if ids.count(i) > 1 or i is None}, key=str)
        if dupes:
            problems.append(f"{name}: panel ids not unique: {dupes}")
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query" and (v.get("datasource") or {}).get("uid") != "prometheus":
                problems.append(f"{name}: variable ${v.get('name')} not on data source uid prometheus")
        for p in all_panels(d):
            title = p.get("title")
            if p.get("type") == "row":
                continue
            if (p.get("datasource") or {}).get("uid") != "prometheus":
                problems.append(f"{name} / {title}: panel data source is not uid prometheus")
            if not (p.get("description") or "").strip():
                problems.append(f"{name} / {title}: no description")
            if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
                problems.append(f"{name} / {title}: no unit")
            if not p.get("targets"):
                problems.append(f"{name} / {title}: no targets")
            for t in p.get("targets", []):
                if (t.get("datasource") or {}).get("uid") != "prometheus":
                    problems.append(f"{name} / {title} / {t.get('refId')}: target data source "
                                    "is not uid prometheus")
                expr = (t.get("expr") or "").strip()
                if not expr:
                    problems.append(f"{name} / {title} / {t.get('refId')}: target without expr")
                    continue
                if "rate(" in expr and "[$__rate_interval]" not in expr and "[$__range]" not in expr:
                    problems.append(f"{name} / {title}: a rate without $__rate_interval: {expr}")
                for metric in sorted(metric_names(expr)):
                    if (metric in exported or metric in BUILTIN_METRICS
                            or metric.startswith(BUILTIN_PREFIXES)):
                        continue
                    problems.append(f"{name} / {title}: metric {metric} is exported by no scrutin "
                                    f"process (expr {expr})")
    return problems


def substitute(expr, span):
    return (expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__range", span)
            .replace("$role", ".*").replace("$instance", ".*"))


# ---- the processes -----------------------------------------------------------------------------

def exported_metrics(urls, ca):
    """Every metric name (histogram suffixes included) the processes' /metrics expose."""
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    names = set()
    for url in urls:
        with urllib.request.urlopen(url, timeout=5, context=ctx if url.startswith("https") else None) as r:
            text = r.read().decode()
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                names.add(name)
                if kind == "histogram":
                    names.update({name + "_bucket", name + "_sum", name + "_count"})
            elif line and not line.startswith("#"):
                names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def write_prometheus_config(conf_dir, groups, ca):
    """prometheus.yml for this test: deploy/prometheus's alert rules and job name, a faster
    scrape, and the targets with their role (the limited api over HTTPS, with the cluster's CA)."""
    lines = [
        "# Written by tests/integration/dashboards_test.py for one run.",
        "global:",
        f"  scrape_interval: {SCRAPE}",
        f"  evaluation_interval: {SCRAPE}",
        "  scrape_timeout: 2s",
        "rule_files:",
        "  - alerts.yml",
        "scrape_configs:",
        "  - job_name: scrutin",
        "    metrics_path: /metrics",
        "    tls_config:",
        f"      ca_file: {json.dumps(ca)}",
        "    static_configs:",
    ]
    for targets, labels in groups:
        lines.append("      - targets: [" + ", ".join(json.dumps(t) for t in targets) + "]")
        lines.append("        labels: {" + ", ".join(f"{k}: {json.dumps(v)}"
                                                     for k, v in labels.items()) + "}")
    with open(os.path.join(conf_dir, "prometheus.yml"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def host_port(url):
    return urllib.parse.urlsplit(url).netloc


def loadgen(binary, target, voters, rate, offset, seed, connections, log_path, ca=None):
    cmd = [binary, "loadgen", "--target", target, "--voters", voters, "--rate", str(rate),
           "--duration", str(LOAD_SECONDS), "--connections", str(connections),
           "--mix", "valid=0.8,duplicate=0.1,invalid=0.07,malformed=0.03",
           "--registry-offset", str(offset), "--seed", str(seed), "--timeout", "5"]
    if ca:
        cmd += ["--cacert", ca]
    out = open(log_path, "w")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT), out


def summary(result, n=4):
    """A few `labels=value` of a query result, for the log."""
    out = []
    for s in result[:n]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s["metric"].items())
                          if k not in ("job", "__name__"))
        value = s["value"][1]
        try:
            value = f"{float(value):.4g}"
        except ValueError:
            pass
        out.append(f"{{{labels}}} {value}")
    more = f" (+{len(result) - n})" if len(result) > n else ""
    return "; ".join(out) + more


def run_queries(prom, dashboards, span, verbose=False):
    """(problems, empty): query errors, and the targets that returned no series. `verbose` logs
    what each target returned."""
    problems, empty = [], []
    for name, d in dashboards.items():
        for p, t in panel_targets(d):
            expr = substitute(t["expr"], span)
            try:
                result = prom.query(expr)
            except Exception as e:  # noqa: BLE001  (HTTP 400 on a bad query, HarnessError)
                body = getattr(e, "read", lambda: b"")().decode(errors="replace")
                problems.append(f"{name} / {p['title']} / {t['refId']}: query error {e} {body} "
                                f"(expr {expr})")
                continue
            if not result:
                empty.append(f"{name} / {p['title']} / {t['refId']}: no series (expr {expr})")
            elif verbose:
                log(f"  {name} / {p['title']} / {t['refId']}: {summary(result)}")
    return problems, empty


def variable_problems(prom, dashboards):
    problems = []
    for name, d in dashboards.items():
        for v in d.get("templating", {}).get("list", []):
            m = re.fullmatch(r"label_values\((?:(.*),\s*)?([A-Za-z_][A-Za-z0-9_]*)\)",
                             v.get("definition", "").strip())
            if not m:
                problems.append(f"{name}: variable ${v.get('name')}: not a label_values() query")
                continue
            selector = substitute(m.group(1) or "up", "1h")
            url = (prom.base_url + f"/api/v1/label/{m.group(2)}/values?"
                   + urllib.parse.urlencode({"match[]": selector}))
            with urllib.request.urlopen(url, timeout=5) as r:
                values = json.load(r)["data"]
            if not values:
                problems.append(f"{name}: variable ${v['name']} ({v['definition']}) finds no value")
    return problems


def main():
    t0 = time.monotonic()
    binary = harness.find_binary()
    dashboards = load_dashboards()
    tmp = tempfile.mkdtemp(prefix="scrutin-dashboards-")
    os.chmod(tmp, 0o755)  # PostgreSQL runs as its own user under it
    cluster_dir = os.path.join(tmp, "cluster")
    problems = []
    serve = None
    loads = []
    prom = None
    try:
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        day = datetime.timedelta(days=1)
        close_at = now + datetime.timedelta(seconds=CLOSE_AFTER)
        laws = [harness.LawSpec(LAW_LIVE, "Loi en direct", "Live act", now - day, now + day),
                harness.LawSpec(LAW_EMBARGO, "Loi sous embargo", "Embargoed act", now - day,
                                close_at, "after_close"),
                harness.LawSpec(LAW_CLOSED, "Loi close", "Closed act", now - 2 * day, now - day)]
        laws_file = harness.write_laws(os.path.join(tmp, "laws.toml"), laws)
        electorate = harness.Electorate(os.path.join(tmp, "electorate"), [LAW_LIVE, LAW_EMBARGO],
                                        count=6000)

        # 1. The distributed shape, and serve beside it.
        start = [CLUSTER, "start", cluster_dir, "--bin", binary, "--laws", laws_file,
                 "--hashes", electorate.hashes_dir, "--key-file", electorate.key_file,
                 "--voters", electorate.voters_csv, "--apis", "1", "--validators", "2",
                 "--aggregators", "1", "--limited-api", "5", "--mix-size", "1",
                 "--mix-settle-ms", "1000", "--tls", "--no-durable"]
        env = dict(os.environ, SCRUTIN_RATE_LIMIT="0")
        env.pop("SCRUTIN_FAILPOINT", None)
        subprocess.run(start, check=True, env=env, timeout=240)
        cenv = harness.read_env_file(os.path.join(cluster_dir, "cluster.env"))
        ca = cenv["TLS_CA"]
        log(f"cluster up ({time.monotonic() - t0:.0f} s)")
        serve = harness.Server(
            electorate, laws_file, os.path.join(tmp, "serve-data"), os.path.join(tmp, "serve.log"),
            rate_limit=0, mix_size=1,
            extra_args=["--max-queue", "1", "--max-batch", "1", "--mix-settle-ms", "1000",
                        "--client-vote-rate", "100", "--client-vote-burst", "100"])
        serve.start()

        def url_of(name):
            return read(os.path.join(cluster_dir, f"{name}.url"))

        groups = [
            ([host_port(url_of("aggregator-1"))], {"role": "aggregator"}),
            ([host_port(url_of("validator-1")), host_port(url_of("validator-2"))],
             {"role": "validator"}),
            # The api on its admin port (plain, as Compose scrapes it), the limited api on its
            # public HTTPS port (it has no admin port).
            ([host_port(read(os.path.join(cluster_dir, "api-1.admin.url")))], {"role": "api"}),
            ([host_port(url_of("limited-api-1"))], {"role": "api", "__scheme__": "https"}),
            ([f"127.0.0.1:{serve.port}"], {"role": "serve"}),
        ]
        metrics_urls = [f"http://{t}/metrics" for g, labels in groups
                        if labels.get("__scheme__") != "https" for t in g]
        metrics_urls.append(url_of("limited-api-1") + "/metrics")

        # 2. Prometheus: the harness's process, this test's configuration.
        prom_dir = os.path.join(tmp, "prometheus")
        os.makedirs(prom_dir)
        prom = prometheus.Prometheus(prom_dir, [])
        write_prometheus_config(prom.conf, groups, ca)
        prom.__enter__()
        n_targets = sum(len(g) for g, _ in groups)
        prom.wait_for(lambda: len(prom.query('up{job="scrutin"} == 1')) == n_targets, 60,
                      f"not all {n_targets} targets up in Prometheus")
        log(f"prometheus scraping {n_targets} targets ({time.monotonic() - t0:.0f} s)")

        # 3. Load: every entry point, a validator restarted on the way.
        load_start = time.time()
        voters = electorate.voters_csv
        for args in (
                (url_of("api-1"), 120, 0, 1, 16, "loadgen-api.log", ca),
                (url_of("limited-api-1"), 15, 8000, 2, 4, "loadgen-limited.log", ca),
                (serve.base_url, 150, 0, 3, 32, "loadgen-serve.log", None)):
            target, rate, offset, seed, conns, logname, cafile = args
            loads.append(loadgen(binary, target, voters, rate, offset, seed, conns,
                                 os.path.join(tmp, logname), cafile))
        time.sleep(12)
        subprocess.run([CLUSTER, "restart-process", cluster_dir, "validator-2"], check=True,
                       timeout=90)
        log("validator-2 restarted")
        for proc, out in loads:
            try:
                proc.wait(timeout=LOAD_SECONDS + 60)
            finally:
                out.close()
            if proc.returncode != 0:
                problems.append(f"loadgen exited {proc.returncode} (see {out.name})")
        for _, out in loads:
            with open(out.name, encoding="utf-8") as f:
                summary = [ln.strip() for ln in f if ln.strip().startswith(("http", "202 body"))]
            log(f"{os.path.basename(out.name)}: {' | '.join(summary)}")
        log(f"load done ({time.monotonic() - t0:.0f} s)")

        # 4. The embargoed law closes; its tally and record follow within seconds.
        wait = (close_at - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 3
        if wait > 0:
            time.sleep(wait)
        exported = exported_metrics(metrics_urls, ca)
        problems += static_problems(dashboards, exported)

        # 5. Every target of every panel, until each has data (series appear a scrape or a
        #    rule evaluation after the event) or 45 s have passed.
        deadline = time.monotonic() + 45
        while True:
            span = f"{int(time.time() - load_start) + 30}s"
            query_problems, empty = run_queries(prom, dashboards, span)
            if query_problems or not empty or time.monotonic() > deadline:
                break
            time.sleep(2)
        problems += query_problems + empty
        run_queries(prom, dashboards, span, verbose=True)  # what each panel shows, for the log
        problems += variable_problems(prom, dashboards)
        embargoed = prom.query(f'votes_by_law{{law_id="{LAW_EMBARGO}"}}')
        log(f"{LAW_EMBARGO} tally after its close: "
            f"{[(s['metric'].get('role'), s['metric']['choice'], s['value'][1]) for s in embargoed]}")
        restarts = prom.query(f'changes(process_start_time_seconds{{role="validator"}}[{span}])')
        if not any(float(s["value"][1]) >= 1 for s in restarts):
            problems.append(f"the restart of validator-2 does not show in changes(): {restarts}")
        n = sum(1 for d in dashboards.values() for _ in panel_targets(d))
        log(f"{n} targets queried over {span} ({time.monotonic() - t0:.0f} s)")
    except Exception as e:  # noqa: BLE001  (reported below, after everything is stopped)
        problems.append(f"{type(e).__name__}: {e}")
    finally:
        for proc, out in loads:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.close()
        if serve is not None:
            serve.kill()
        if prom is not None:
            prom.__exit__(None, None, None)
        stop = subprocess.run([CLUSTER, "stop", cluster_dir], timeout=180)
        if stop.returncode != 0:
            problems.append(f"scripts/cluster stop exited {stop.returncode}")
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    keep = os.environ.get("SCRUTIN_KEEP_TMP") == "1"
    if keep or problems:
        print(f"files kept in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"dashboards: {'FAILED' if problems else 'ok'} in {time.monotonic() - t0:.0f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

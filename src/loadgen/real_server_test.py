#!/usr/bin/python3
"""loadgen against the real embedded server, end to end.

Generates a small electorate (voters generate, keygen, hashgen), starts `scrutin serve
--rate-limit 0` on a free port, runs `scrutin loadgen --votes 3000 --rate max --verify` and checks
that it passes; then a second verified run on the now non-empty server (fresh registry rows), and
a run that re-uses the first run's rows, which verification must reject. Stops the server with
SIGTERM and expects exit 0.

Usage: real_server_test.py <scrutin binary> <work dir>
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

LAWS = ["L2025-001", "L2025-002"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, **kw)


def main():
    scrutin, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    voters = os.path.join(work, "voters.csv")
    key = os.path.join(work, "election.key")
    hashes = os.path.join(work, "hashes")
    laws = os.path.join(work, "laws.toml")
    data = os.path.join(work, "data")

    gen = [scrutin, "voters", "generate", "--count", "3000", "--seed", "11", "--out", voters]
    for law in LAWS:
        gen += ["--law", law]
    run(gen, check=True)
    run([scrutin, "keygen", "--out", key], check=True)
    run([scrutin, "hashgen", "--voters", voters, "--key-file", key, "--out", hashes], check=True)
    with open(laws, "w") as f:
        for law in LAWS:
            f.write(f'[[law]]\nid = "{law}"\ntitle_fr = "Loi {law}"\ntitle_en = "Act {law}"\n'
                    'opens_at = "2020-01-01T00:00:00Z"\ncloses_at = "2099-01-01T00:00:00Z"\n'
                    'results = "live"\n\n')

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen(
        [scrutin, "serve", "--hashes", hashes, "--laws", laws, "--data", data, "--key-file", key,
         "--listen", f"127.0.0.1:{port}", "--rate-limit", "0", "--threads", "1",
         # one loadgen address far above one client's allowance: per-client limits off
         "--client-vote-rate", "0", "--client-read-rate", "0", "--credential-attempts", "0"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                sys.exit(f"serve exited early with {server.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("serve did not become healthy within 30 s")
            time.sleep(0.1)

        def loadgen(votes, offset, name, rate="max", extra=()):
            out = os.path.join(work, name + ".json")
            cmd = [scrutin, "loadgen", "--target", url, "--voters", voters, "--rate", rate,
                   "--votes", str(votes), "--connections", "16", "--verify",
                   "--registry-offset", str(offset), "--json", out, "--verify-timeout", "60", *extra]
            rc = run(cmd, timeout=240).returncode
            report = json.load(open(out)) if os.path.exists(out) else None
            return rc, report

        rc, first = loadgen(3000, 0, "first")
        if rc != 0 or not first["verify"]["ok"]:
            sys.exit(f"first verified run failed (exit {rc})")
        if first["answered"] != 3000 or first["http_status"].get("202", 0) == 0:
            sys.exit("first run: not every request was answered")

        # Open loop on two threads this time.
        rc, second = loadgen(1000, first["registry"]["next"], "second",
                             rate="2000", extra=["--threads", "2"])
        if rc != 0 or not second["verify"]["ok"]:
            sys.exit(f"second verified run (non-empty server) failed (exit {rc})")

        rc, reused = loadgen(500, 0, "reused")
        if rc == 0 or reused is None or reused["verify"]["ok"]:
            sys.exit("re-using already voted credentials was not caught by --verify")
        print("loadgen real-server test: OK")
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                sys.exit("serve did not stop within 30 s of SIGTERM")
    if server.returncode != 0:
        sys.exit(f"serve exited with {server.returncode} after SIGTERM")


if __name__ == "__main__":
    main()

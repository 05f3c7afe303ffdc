#!/usr/bin/python3
"""loadgen against the real embedded server, end to end.

Generates a small electorate (voters generate, keygen, hashgen), starts `scrutin serve
--rate-limit 0` on a free port, runs `scrutin loadgen --votes 3000 --rate max --verify` and checks
that it passes; then a second verified run on the now non-empty server (fresh registry rows), and
a run that re-uses the first run's rows, which verification must reject. Stops the server with
SIGTERM and expects exit 0.

With `https`, the server runs with --tls-cert/--tls-key (a throwaway CA and a certificate naming
only `localhost`, made with the openssl command line) and loadgen talks to https://localhost with
--cacert: both verified runs must pass, and loadgen must refuse, quickly and saying why, a server
its CA store does not trust (no --cacert) and a name the certificate does not carry (127.0.0.1).

Usage: real_server_test.py <scrutin binary> <work dir> [https]
"""
import json
import os
import shutil
import signal
import socket
import ssl
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


def make_certificate(work):
    """A throwaway CA and a server certificate for DNS:localhost only; returns (ca, cert, key)."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=work, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=loadgen test CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(work, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem")
    return tuple(os.path.join(work, n) for n in ("ca.pem", "server.pem", "server.key"))


def main():
    scrutin, work = sys.argv[1], sys.argv[2]
    https = len(sys.argv) > 3 and sys.argv[3] == "https"
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
    tls_args, tls_client, context = [], [], None
    if https:
        ca, cert, tls_key = make_certificate(work)
        url = f"https://localhost:{port}"
        tls_args = ["--tls-cert", cert, "--tls-key", tls_key]
        tls_client = ["--cacert", ca]
        context = ssl.create_default_context(cafile=ca)
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen(
        [scrutin, "serve", "--hashes", hashes, "--laws", laws, "--data", data, "--key-file", key,
         "--listen", f"127.0.0.1:{port}", "--rate-limit", "0", "--threads", "1", *tls_args,
         # one loadgen address far above one client's allowance: per-client limits off
         "--client-vote-rate", "0", "--client-read-rate", "0", "--credential-attempts", "0"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                sys.exit(f"serve exited early with {server.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=1,
                                            context=context) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("serve did not become healthy within 30 s")
            time.sleep(0.1)

        def loadgen(votes, offset, name, rate="max", extra=(), target=url, tls=tls_client,
                    verify=True):
            out = os.path.join(work, name + ".json")
            cmd = [scrutin, "loadgen", "--target", target, "--voters", voters, "--rate", rate,
                   "--votes", str(votes), "--connections", "16", *tls,
                   *(["--verify"] if verify else []),
                   "--registry-offset", str(offset), "--json", out, "--verify-timeout", "60", *extra]
            p = run(cmd, timeout=240, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            sys.stdout.write(p.stdout.decode(errors="replace"))
            report = json.load(open(out)) if os.path.exists(out) else None
            return p.returncode, report, p.stdout.decode(errors="replace")

        if https:
            # Refused before any vote is sent, saying why: an untrusted CA (seen by --verify's
            # first read), then a wrong name (seen by the load's connections).
            for name, target, tls, verify in (
                    ("untrusted", url, [], True),
                    ("wrong-name", f"https://127.0.0.1:{port}", tls_client, False)):
                began = time.monotonic()
                rc, report, text = loadgen(10, 0, name, target=target, tls=tls, verify=verify,
                                           extra=["--timeout", "5"])
                why = "IP address mismatch" if name == "wrong-name" else "certificate verify failed"
                if rc == 0 or report is not None or why not in text:
                    sys.exit(f"{name}: loadgen did not refuse the server's certificate (exit {rc})")
                if time.monotonic() - began > 30:
                    sys.exit(f"{name}: the refusal took {time.monotonic() - began:.0f} s")

        rc, first, _ = loadgen(3000, 0, "first")
        if rc != 0 or not first["verify"]["ok"]:
            sys.exit(f"first verified run failed (exit {rc})")
        if first["answered"] != 3000 or first["http_status"].get("202", 0) == 0:
            sys.exit("first run: not every request was answered")

        # Open loop on two threads this time.
        rc, second, _ = loadgen(1000, first["registry"]["next"], "second",
                             rate="2000", extra=["--threads", "2"])
        if rc != 0 or not second["verify"]["ok"]:
            sys.exit(f"second verified run (non-empty server) failed (exit {rc})")

        if not https:
            rc, reused, _ = loadgen(500, 0, "reused")
            if rc == 0 or reused is None or reused["verify"]["ok"]:
                sys.exit("re-using already voted credentials was not caught by --verify")
        print(f"loadgen real-server test{' over HTTPS' if https else ''}: OK")
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

#!/usr/bin/python3
"""HTTPS on `scrutin serve` (`--tls-cert/--tls-key`) as voters' browsers and an operator see it.

Certificates come from the `openssl` command line, as an authority's own CA would issue them: a
throwaway CA, a server certificate for 127.0.0.1 signed by it, and a second one for the renewal.

- curl with the CA file gets 200 from /api/v1/health, with Strict-Transport-Security; a vote cast
  over HTTPS is accepted and its status readable.
- `openssl s_client -tls1_1` is refused; TLS 1.2 and 1.3 both work.
- Plain HTTP on the HTTPS port is never served: a 400 `https_required` or nothing, never a 200.
- SIGHUP with a renewed certificate: new connections see the new one, a keep-alive connection
  opened before keeps being served; a broken file at the next SIGHUP leaves the renewed one in use.
- Start-up refuses, with the file named, a key that is missing or not the certificate's, and
  --tls-cert without --tls-key.
"""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        raise harness.HarnessError(f"openssl {' '.join(args)}: {p.stdout.decode()[-2000:]}")


def make_ca(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=scrutin test CA",
            cwd=d)


def issue(d, name, cn):
    """A server certificate for 127.0.0.1 signed by the CA in d: d/name.pem and d/name.key."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
            cwd=d)


class HttpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="scrutin-https-")
        cls.certs = os.path.join(cls.tmp, "certs")
        os.makedirs(cls.certs)
        make_ca(cls.certs)
        issue(cls.certs, "first", "first.test")
        issue(cls.certs, "second", "second.test")
        issue(cls.certs, "other", "other.test")
        cls.cert = os.path.join(cls.tmp, "server.pem")
        cls.key = os.path.join(cls.tmp, "server.key")
        shutil.copy(os.path.join(cls.certs, "first.pem"), cls.cert)
        shutil.copy(os.path.join(cls.certs, "first.key"), cls.key)
        os.chmod(cls.key, 0o600)
        cls.ca = os.path.join(cls.certs, "ca.pem")
        cls.ballot = harness.standard_ballot()
        cls.law = cls.ballot["open_a"].law_id
        cls.electorate = harness.Electorate(os.path.join(cls.tmp, "electorate"), [cls.law],
                                            count=200)
        cls.laws_file = os.path.join(cls.tmp, "laws.toml")
        harness.write_laws(cls.laws_file, [cls.ballot["open_a"]])
        cls.server = harness.Server(cls.electorate, cls.laws_file, os.path.join(cls.tmp, "data"),
                                    os.path.join(cls.tmp, "serve.log"),
                                    extra_args=["--tls-cert", cls.cert, "--tls-key", cls.key])
        cls.server.spawn()
        cls.port = cls.server.port
        deadline = time.monotonic() + 30
        while True:
            if cls.server.proc.poll() is not None or time.monotonic() > deadline:
                raise harness.HarnessError(f"serve over HTTPS did not start:\n"
                                           f"{cls.server.log_tail()}")
            try:
                if cls.get("/api/v1/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        if os.environ.get("SCRUTIN_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def context(cls):
        ctx = ssl.create_default_context(cafile=cls.ca)
        return ctx

    @classmethod
    def connection(cls):
        return http.client.HTTPSConnection("127.0.0.1", cls.port, timeout=5,
                                           context=cls.context())

    @classmethod
    def get(cls, path, conn=None):
        c = conn or cls.connection()
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            if conn is None:
                c.close()

    def peer_subject(self):
        with self.context().wrap_socket(
                __import__("socket").create_connection(("127.0.0.1", self.port), timeout=5),
                server_hostname="127.0.0.1") as s:
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]

    def s_client(self, *flags):
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.port}",
                            "-CAfile", self.ca, *flags], input=b"", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20)
        return p.returncode, p.stdout.decode(errors="replace")

    def test_curl_with_the_ca_gets_health_and_hsts(self):
        p = subprocess.run(["curl", "-sS", "-i", "--cacert", self.ca,
                            f"https://127.0.0.1:{self.port}/api/v1/health"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn(" 200 ", out.splitlines()[0])
        self.assertIn("strict-transport-security: max-age=", out.lower())

    def test_a_vote_over_https_is_counted(self):
        voter = harness.VoterPool(self.electorate.registry, shuffle_seed=7).take([self.law])
        c = self.connection()
        try:
            c.request("POST", "/api/v1/vote", body=json.dumps(
                {"nas": voter.nas, "code": voter.code, "law_id": self.law, "vote": "oui"}),
                headers={"Content-Type": "application/json"})
            r = c.getresponse()
            body = json.loads(r.read())
            self.assertEqual(r.status, 202, body)
            status, _, raw = self.get(body["status_url"], conn=c)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(raw)["status"], "accepted")
        finally:
            c.close()

    def test_tls_1_1_is_refused_and_1_2_and_1_3_work(self):
        # SECLEVEL=0: the client itself is willing to speak TLS 1.1, so the refusal is the
        # server's (its alert "protocol version"), not the client library's policy.
        rc, out = self.s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("alert protocol version", out)
        self.assertIn("Cipher is (NONE)", out)
        for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            rc, out = self.s_client(flag)
            self.assertEqual(rc, 0, out)
            self.assertIn("Verify return code: 0 (ok)", out)
            self.assertIn(name, out)

    def test_plain_http_on_the_https_port_is_never_served(self):
        import socket
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                try:
                    while chunk := s.recv(4096):
                        data += chunk
                except (ConnectionResetError, socket.timeout):
                    pass
            text = data.decode(errors="replace")
            self.assertNotIn(" 200 ", text.split("\r\n", 1)[0])
            if text:
                self.assertTrue(text.startswith("HTTP/1.1 400"), text)
                self.assertIn("https_required", text)

    def test_sighup_renews_the_certificate_without_dropping_connections(self):
        kept = self.connection()
        try:
            self.assertEqual(self.get("/api/v1/laws", conn=kept)[0], 200)
            start = os.path.getsize(self.server.log_path)
            shutil.copy(os.path.join(self.certs, "second.pem"), self.cert)
            shutil.copy(os.path.join(self.certs, "second.key"), self.key)
            self.server.proc.send_signal(signal.SIGHUP)
            self.wait_log("tls_reloaded", start)
            self.assertEqual(self.peer_subject(), "second.test")
            self.assertEqual(self.get("/api/v1/laws", conn=kept)[0], 200)

            # A broken renewal: refused, the second certificate stays in use.
            start = os.path.getsize(self.server.log_path)
            with open(self.cert, "w") as f:
                f.write("not a certificate\n")
            self.server.proc.send_signal(signal.SIGHUP)
            self.wait_log("tls_reload_failed", start)
            self.assertEqual(self.peer_subject(), "second.test")
            self.assertEqual(self.get("/api/v1/health")[0], 200)
            self.assertTrue(self.server.running())
        finally:
            kept.close()
            shutil.copy(os.path.join(self.certs, "second.pem"), self.cert)

    def wait_log(self, event, offset, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.server.log_path, "rb") as f:
                f.seek(offset)
                if event.encode() in f.read():
                    return
            time.sleep(0.05)
        self.fail(f"no {event} in the log:\n{self.server.log_tail()}")

    def test_start_up_refuses_a_bad_pair_naming_the_file(self):
        def start(*args):
            p = subprocess.run([self.electorate.binary, "serve", "--hashes",
                                self.electorate.hashes_dir, "--key-file",
                                self.electorate.key_file, "--laws", self.laws_file, "--data",
                                os.path.join(self.tmp, "data-refused"), "--listen",
                                "127.0.0.1:0", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            return p.returncode, p.stdout.decode(errors="replace")

        missing = os.path.join(self.tmp, "missing.key")
        rc, out = start("--tls-cert", self.cert, "--tls-key", missing)
        self.assertNotEqual(rc, 0)
        self.assertIn("missing.key", out)
        other_key = os.path.join(self.certs, "other.key")
        rc, out = start("--tls-cert", os.path.join(self.certs, "first.pem"), "--tls-key",
                        other_key)
        self.assertNotEqual(rc, 0)
        self.assertIn("does not belong", out)
        rc, out = start("--tls-cert", self.cert)
        self.assertNotEqual(rc, 0)
        self.assertIn("--tls-key", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)

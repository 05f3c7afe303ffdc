#!/usr/bin/env python3
"""`scrutin health` against a local HTTP server: exit 0 on 200 only, one line on stderr otherwise
(the status or the connection error, never the token), the token sent when given, bounded by
--timeout-ms and by the size of the answer. SCRUTIN_BIN names the binary."""
import http.server
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("SCRUTIN_BIN", "scrutin")
TOKEN = "t0ken-" + "9" * 40


class Handler(http.server.BaseHTTPRequestHandler):
    seen = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Handler.seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/readyz":
            self.reply(200, b'{"status":"ok"}')
        elif self.path == "/degraded":
            self.reply(503, b'{"status":"degraded"}')
        elif self.path == "/health":
            ok = self.headers.get("Authorization") == "Bearer " + TOKEN
            self.reply(200 if ok else 401, b"{}")
        elif self.path == "/huge":
            self.reply(200, b"x" * (1 << 20))
        elif self.path == "/huge-headers":
            self.send_response(200)
            for i in range(200):
                self.send_header(f"X-Filler-{i}", "y" * 100)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            time.sleep(3)
            self.reply(200, b"{}")
        else:
            self.reply(404, b"{}")

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass


class HealthCommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cls.server.daemon_threads = True
        cls.port = cls.server.server_address[1]
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.token_file = os.path.join(cls.tmp.name, "admin.token")
        with open(cls.token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(cls.token_file, 0o600)

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.tmp.cleanup()

    def health(self, *args, env=None):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCRUTIN_HEALTH")}
        full_env.update(env or {})
        return subprocess.run([BIN, "health", *args], capture_output=True, text=True, timeout=30,
                              env=full_env)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def test_200_is_healthy_and_silent(self):
        r = self.health("--url", self.url("/readyz"))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))

    def test_env_names_the_url(self):
        r = self.health(env={"SCRUTIN_HEALTH_URL": self.url("/readyz")})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_other_statuses_fail_with_one_line(self):
        for path, status in (("/degraded", "503"), ("/nope", "404")):
            r = self.health("--url", self.url(path))
            self.assertEqual(r.returncode, 1)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn(status, r.stderr)

    def test_the_token_is_sent_and_never_printed(self):
        Handler.seen.clear()
        r = self.health("--url", self.url("/health"), "--token-file", self.token_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(Handler.seen[-1], ("/health", "Bearer " + TOKEN))
        r = self.health("--url", self.url("/degraded"),
                        env={"SCRUTIN_HEALTH_TOKEN_FILE": self.token_file})
        self.assertEqual(r.returncode, 1)
        self.assertNotIn(TOKEN, r.stderr + r.stdout)
        r = self.health("--url", self.url("/health"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("401", r.stderr)

    def test_a_token_file_others_may_read_is_refused(self):
        path = os.path.join(self.tmp.name, "open.token")
        with open(path, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(path, 0o644)
        r = self.health("--url", self.url("/readyz"), "--token-file", path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("too open", r.stderr)
        self.assertNotIn(TOKEN, r.stderr)

    def test_refused_connection_fails(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = self.health("--url", f"http://127.0.0.1:{port}/readyz")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect", r.stderr)

    def test_bounded_in_time_and_size(self):
        start = time.monotonic()
        r = self.health("--url", self.url("/slow"), "--timeout-ms", "300")
        self.assertEqual(r.returncode, 1)
        self.assertLess(time.monotonic() - start, 2.5)
        self.assertIn("timed out", r.stderr)
        # Only the status line and headers are read: a huge body changes nothing (200: healthy)
        start = time.monotonic()
        r = self.health("--url", self.url("/huge"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - start, 2.5)
        # Headers over 8 KiB are refused, in one line
        r = self.health("--url", self.url("/huge-headers"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_only_plain_http_to_an_address(self):
        for url in ("https://127.0.0.1:9100/readyz", "http://example.invalid/readyz",
                    f"http://u:p@127.0.0.1:{self.port}/readyz", "http://127.0.0.1:99999/"):
            r = self.health("--url", url)
            self.assertEqual(r.returncode, 1, url)
            self.assertIn("--url", r.stderr)
        r = self.health("--url", f"http://localhost:{self.port}/readyz")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()

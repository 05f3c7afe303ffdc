#!/usr/bin/python3
"""The distributed shape with `scripts/cluster start --tls` (docs/operations.md, "HTTPS and
certificate renewal"); with --redis-cluster over a 3-master Redis Cluster (its bus over TLS too).

--tls covers the three backends: PostgreSQL, RabbitMQ and Redis accept only TLS (pg_hba
`hostssl`; RabbitMQ's plain listener off; Redis's TLS port only), with certificates from a
throwaway CA, and every scrutin process verifies them (libpq sslmode=verify-full with
PGSSLROOTCERT; amqps:// with cacertfile; rediss:// with cacert), peer and host name verified.

What an auditor checks:
- votes cast through the api are decided and counted as without TLS;
- pg_stat_ssl shows TLS for every connection of every scrutin process (application_name
  scrutin-*), and there is at least the aggregator's;
- `rabbitmqctl list_connections` shows ssl=true for every connection (the api's publishers, the
  validators' and aggregators' consumers and publishers);
- Redis answers only over TLS (a plain PING gets nothing), and the auditor's own reading of the
  claims goes over TLS;
- a plaintext connection is refused by the server, and a client that trusts another CA refuses
  the server (verify-full);
- `scrutin ledger rebuild`, an operator's command, reads PostgreSQL over verified TLS too;
- the apis serve HTTPS (the votes above went over it): plain HTTP to their port gets no 200, and
  `scrutin loadgen --target https://... --cacert` drives them with every vote verified.
"""

import os
import socket
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness_cluster as hc  # noqa: E402

C = None
BOOK = None


REDIS_CLUSTER = "--redis-cluster" in sys.argv  # the same over a 3-master Redis Cluster


def setUpModule():
    global C, BOOK
    C = hc.module_cluster("tls", validators=1, voters=200, redis_cluster=REDIS_CLUSTER,
                          cluster_args=["--tls", "--no-durable"])
    BOOK = hc.VoteBook(C)


class TlsTest(unittest.TestCase):
    def test_every_backend_link_is_verified_tls(self):
        self.assertTrue(C.env.get("TLS_CA"), "scripts/cluster --tls left no TLS_CA in cluster.env")
        self.assertIn("sslmode=verify-full", C.env["PG_URL"])
        cast = hc.send_parallel(BOOK, hc.fresh_votes(BOOK, 30), threads=6)
        self.assertEqual([c.http_status for c in cast if c.http_status != 202], [])
        BOOK.wait_all_final(60)
        self.assertTrue(all(c.final["status"] == "accepted" for c in cast),
                        [c.final for c in cast if c.final["status"] != "accepted"])

        rows = C.pg("SELECT a.application_name, s.ssl, coalesce(s.version, '') "
                    "FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                    "WHERE a.application_name LIKE 'scrutin%'")
        hc.log(f"scrutin connections to PostgreSQL: {rows}")
        self.assertTrue(any(r[0] == "scrutin-aggregator" for r in rows), rows)
        plain = [r for r in rows if r[1] != "t"]
        self.assertEqual(plain, [], "scrutin connections to PostgreSQL without TLS")
        self.assertTrue(all(r[2] in ("TLSv1.2", "TLSv1.3") for r in rows), rows)

        conns = [line.split("\t") for line in
                 C.rabbitmqctl("list_connections", "name", "ssl", "ssl_protocol").splitlines()
                 if line.strip() and not line.startswith("name\t")]  # the header
        hc.log(f"connections to RabbitMQ: {conns}")
        self.assertGreaterEqual(len(conns), 3, conns)  # api, validator, aggregator at least
        self.assertEqual([c for c in conns if c[1] != "true"], [],
                         "connections to RabbitMQ without TLS")
        self.assertTrue(all(c[2] in ("tlsv1.2", "tlsv1.3") for c in conns), conns)

        ledger = hc.Ledger(C)
        snap = ledger.wait_settled(BOOK, 60)
        ledger.check(BOOK, snap)

    def test_plaintext_and_unverified_links_are_refused(self):
        base = C.env["PG_URL"].split("?", 1)[0]
        with self.assertRaises(AssertionError) as plain:
            hc.psql(base + "?sslmode=disable", "SELECT 1")
        self.assertIn("no encryption", str(plain.exception))
        # Another CA than the one that issued the server's certificate.
        other = os.path.join(C.tmp, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                        os.path.join(C.tmp, "other-ca.key"), "-out", other, "-days", "1",
                        "-subj", "/CN=another CA"], check=True, capture_output=True, timeout=30)
        with self.assertRaises(AssertionError) as unverified:
            hc.psql(C.env["PG_URL"], "SELECT 1", ca=other)
        self.assertIn("certificate verify failed", str(unverified.exception))
        # RabbitMQ: nothing listens for plain AMQP, and a broker name the certificate does not
        # carry is refused by the client.
        port = int(C.env["RABBITMQ_PORT"])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            s.settimeout(5)
            try:
                reply = s.recv(64)
            except (ConnectionResetError, socket.timeout):
                reply = b""
        self.assertFalse(reply.startswith(b"AMQP") or reply.startswith(b"\x01"),
                         f"plain AMQP answered on the TLS port: {reply!r}")
        # Redis: the TLS port only.
        host, rport = hc.redis_nodes(C.env)[0]
        self.assertTrue(hc.redis_ca(C.env), "Redis is not reached over rediss://")
        with socket.create_connection((host, rport), timeout=5) as s:
            s.sendall(b"PING\r\n")
            try:
                reply = s.recv(64)
            except (ConnectionResetError, socket.timeout):
                reply = b""
        self.assertNotIn(b"PONG", reply, "Redis answered plain text")
        r = hc.Resp(host, rport, ca=C.env["TLS_CA"])
        try:
            self.assertEqual(r.command("PING"), "PONG")
        finally:
            r.close()
        env = hc.clean_env()
        wrong_name = C.env["AMQP_URL"].replace("@localhost:", "@127.0.0.1:")
        p = subprocess.run([C.binary, "deadletter", "list", "--amqp", wrong_name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60)
        out = p.stdout.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, out)
        p = subprocess.run([C.binary, "deadletter", "list", "--amqp", C.env["AMQP_URL"]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors="replace"))

    def test_the_public_api_is_https(self):
        url = C.api_urls[0]
        self.assertTrue(url.startswith("https://localhost:"), url)
        port = int(url.rsplit(":", 1)[1])
        # Plain HTTP on the HTTPS port: no 200 (a 400 naming HTTPS, or nothing).
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            head = b""
            try:
                while b"\r\n" not in head:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    head += chunk
            except OSError:
                pass
        self.assertNotIn(b" 200 ", head.split(b"\r\n", 1)[0], head)
        # loadgen over verified HTTPS, every vote followed to its final status.
        # Registry rows at the end of the file, far from the voters the VoteBook hands out from
        # its start.
        with open(C.electorate.voters_csv) as f:
            rows = sum(1 for _ in f) - 1
        p = subprocess.run([C.binary, "loadgen", "--target", url, "--cacert", C.env["TLS_CA"],
                            "--voters", C.electorate.voters_csv, "--rate", "200", "--votes", "40",
                            "--connections", "4", "--mix", "valid=0.8,invalid=0.2",
                            "--registry-offset", str(rows - 80), "--verify",
                            "--verify-timeout", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("verify    OK", out)

    def test_ledger_rebuild_reads_the_record_over_tls(self):
        env = hc.clean_env({"PGSSLROOTCERT": C.env["TLS_CA"]})
        redis = C.env.get("REDIS_CLUSTER_URL") or C.env["REDIS_URL"]
        p = subprocess.run([C.binary, "ledger", "rebuild", "--redis", redis, "--hashes",
                            C.electorate.hashes_dir, "--pg", C.env["PG_URL"]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=120)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("ledger rebuild:", out)


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=[a for a in sys.argv if a != "--redis-cluster"])

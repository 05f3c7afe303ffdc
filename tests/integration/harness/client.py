"""A small HTTP client for black-box tests of the scrutin API (standard library only).

Every call returns a Response holding the status, headers and raw body, whatever the status (no
exception for 4xx/5xx). Transport failures (refused, reset, timeout) raise OSError or
http.client.HTTPException: tests that kill servers catch those and treat them as "no answer".

Client opens one connection per request and is thread-safe. KeepAlive keeps one connection open
across requests and is for one thread at a time.

An https:// base URL is verified like a browser does (certificate chain and host name) against the
CA file given as `ca`, else $SCRUTIN_CA_FILE (how the suites learn the CA of a server started with
--tls-cert, e.g. `scripts/cluster start --tls`), else the system's store.
"""

import http.client
import json
import os
import socket
import ssl
import urllib.parse

DEFAULT_TIMEOUT = 10.0


class Response:
    def __init__(self, status, headers, body: bytes):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage: case-insensitive get()
        self.body = body
        self._json = None
        self._json_done = False

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        if not self._json_done:
            self._json = json.loads(self.body.decode("utf-8"))
            self._json_done = True
        return self._json

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        body = self.body[:300].decode("utf-8", errors="replace")
        return f"<Response {self.status} {body!r}>"


def encode_body(body, content_type):
    """(bytes, headers) for a request body given as dict/list (JSON), str, bytes or None."""
    headers = {}
    if body is None:
        data = None
    elif isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        data = json.dumps(body).encode("utf-8")
    if content_type is not None:
        headers["Content-Type"] = content_type
    return data, headers


def _split_base(base_url):
    u = urllib.parse.urlsplit(base_url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"base URL must be http(s)://host:port, got {base_url!r}")
    return u.scheme, u.hostname, u.port or (443 if u.scheme == "https" else 80), u.path.rstrip("/")


def tls_context(ca=None):
    """The context a client verifies an https server with: `ca`, else $SCRUTIN_CA_FILE, else the
    system's store."""
    return ssl.create_default_context(cafile=ca or os.environ.get("SCRUTIN_CA_FILE") or None)


class Client:
    """Requests against one base URL, a fresh connection each time. Thread-safe."""

    def __init__(self, base_url, timeout=DEFAULT_TIMEOUT, ca=None):
        self.base_url = base_url.rstrip("/")
        self.scheme, self.host, self.port, self.prefix = _split_base(self.base_url)
        self.timeout = timeout
        self.context = tls_context(ca) if self.scheme == "https" else None

    def connection(self, timeout=None):
        t = self.timeout if timeout is None else timeout
        if self.context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=t,
                                               context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def raw_socket(self, timeout=None):
        """A connected socket for hand-written bytes (malformed requests, slow senders), TLS
        wrapped for an https base URL. The caller closes it."""
        s = socket.create_connection((self.host, self.port),
                                     timeout=self.timeout if timeout is None else timeout)
        if self.context is None:
            return s
        try:
            return self.context.wrap_socket(s, server_hostname=self.host)
        except BaseException:
            s.close()
            raise

    def request(self, method, path, body=None, content_type="application/json", headers=None,
                timeout=None):
        data, h = encode_body(body, content_type if body is not None else None)
        h.update(headers or {})
        conn = self.connection(timeout)
        try:
            conn.request(method, self.prefix + path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post_vote(self, payload, content_type="application/json", **kw):
        return self.request("POST", "/api/v1/vote", body=payload, content_type=content_type, **kw)

    def keep_alive(self, timeout=None):
        return KeepAlive(self, timeout)


class KeepAlive:
    """One persistent HTTP/1.1 connection. `reconnects` counts how often it had to be re-opened,
    so a test can assert the server kept the connection open. One thread at a time."""

    def __init__(self, client: Client, timeout=None):
        self.client = client
        self.conn = client.connection(timeout)
        self.conn.connect()
        self.sock = self.conn.sock
        self.reconnects = 0

    def request(self, method, path, body=None, content_type="application/json", headers=None):
        data, h = encode_body(body, content_type if body is not None else None)
        h.update(headers or {})
        if self.conn.sock is None:
            self.conn.connect()
            self.reconnects += 1
        elif self.conn.sock is not self.sock:
            self.reconnects += 1
        self.sock = self.conn.sock
        self.conn.request(method, self.client.prefix + path, body=data, headers=h)
        r = self.conn.getresponse()
        body = r.read()
        # http.client drops the socket after a response that closes the connection.
        if r.will_close:
            self.conn.close()
        return Response(r.status, r.headers, body)

    def closed_by_server(self):
        return self.conn.sock is None

    def close(self):
        self.conn.close()

// Server: the HTTP/1.1 front end of every scrutin process that speaks HTTP — Boost.Beast over Asio,
// one io_context per thread, connections spread round-robin over the threads.
//
// What it guarantees to a Handler and to clients:
//   - HTTP/1.1 keep-alive (and HTTP/1.0 with "Connection: keep-alive"), one request at a time per
//     connection (pipelined requests wait in the buffer until the previous response is written);
//   - bounded input (RequestReader, request_reader.hpp): header at most header_limit bytes (431),
//     body at most body_limit bytes (413, decided from Content-Length before the body is read,
//     enforced while reading a chunked body), chunk extensions, trailers and chunk framing
//     bounded, ambiguous framing (Transfer-Encoding other than "chunked", or with
//     Content-Length) refused with 400; each refusal is answered once, then the connection closes;
//   - timeouts: an idle keep-alive connection is closed after idle_timeout (after one second when
//     the server is near its connection cap: idle connections are shed first), a request that has
//     started to arrive must be complete within request_timeout, a response written within
//     write_timeout; the time a Handler takes is not bounded here;
//   - connections: at most max_connections at once, derived from the file-descriptor limit when 0
//     (the soft limit is raised to the hard one); beyond it, and beyond a client's own cap
//     (ClientTable), a new connection is accepted and closed at once, never left in the backlog;
//     running out of descriptors (EMFILE) is handled with a reserve descriptor, so accepting never
//     spins or stalls;
//   - fair limits (when `clients` is set): every request first takes a token from its client's
//     bucket (writes for POST and other unsafe methods, reads for GET/HEAD); a client out of
//     tokens gets 429 {"error": "rate_limited", "scope": "client"} with Retry-After, its handler is
//     not called, and its connection is not read again before Retry-After (at most a second), so
//     a pipelining flood costs one answer a second per connection; every 400/413/415/431 answered
//     to a client costs it kMalformedCost tokens more;
//   - the client of a request is its TCP peer, or — only when that peer is in trusted_proxies —
//     the address a PROXY protocol v1/v2 header at the start of the connection names, else the
//     one its X-Forwarded-For names (client_address.hpp);
//   - Expect: 100-continue is honoured;
//   - HEAD is answered like GET by the handler, without the body;
//   - every error the server itself produces has a JSON body {"error", "message"};
//   - bytes of a request are wiped from the read buffer once parsed (see wiping_buffer.hpp);
//   - HTTPS when `tls` is set (tls.hpp): every connection starts with a TLS handshake, which
//     costs its client a read token (refused, closed, when it has none) and must finish within
//     request_timeout; a failed one costs kMalformedCost more; plain HTTP on the port is answered
//     400 `https_required` in plain text and closed, never served; every response carries
//     Strict-Transport-Security. The PROXY header of a trusted proxy comes before the handshake.
//
// Thread-safety: Start and Stop are called by one owner thread, never from a handler.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "http/client_address.hpp"
#include "http/client_table.hpp"

namespace scrutin::http {

class TlsContext;

using Request = boost::beast::http::request<boost::beast::http::string_body>;

// A response as the handler describes it; the server adds Date, Content-Length and Connection.
struct Response {
  unsigned status = 200;
  // REQUIRES: points to storage that outlives the response (a literal or a long-lived string).
  std::string_view content_type = "application/json";
  std::string body;
  // Extra header lines, each "Name: value\r\n" (see AddHeader).
  std::string headers;

  void AddHeader(std::string_view name, std::string_view value);
};

namespace detail {
class Connection;
}

// The right and duty to answer one request. Move-only; Send must be called exactly once, from any
// thread. A Responder destroyed without Send answers 500, so a request can never hang forever.
class Responder {
 public:
  explicit Responder(std::shared_ptr<detail::Connection> c) : connection_(std::move(c)) {}
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&&) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  // Sends the response (on the connection's own thread; posts there when called from another).
  // Calling it on a moved-from or already used Responder does nothing.
  void Send(Response response);

 private:
  std::shared_ptr<detail::Connection> connection_;
};

// Answers requests. Handle runs on the connection's thread; it may answer at once (Send inside
// Handle) or later from any thread. `request` stays valid and unchanged until the response has been
// sent; the handler may modify it (e.g. wipe the body).
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void Handle(Request& request, Responder responder) = 0;
};

struct ServerOptions {
  int threads = 0;  // 0: one per core
  // Open connections at most; 0: derived from the file-descriptor limit (see RaiseFileLimit).
  std::size_t max_connections = 0;
  // Per-client request buckets and connection caps; nullptr: none (e.g. an admin listener).
  // REQUIRES: outlives the server.
  ClientTable* clients = nullptr;
  // Peers whose PROXY protocol header or X-Forwarded-For names the client (empty: none).
  TrustedProxies trusted_proxies;
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 4 * 1024;
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  // How timeouts are checked: every connection's deadline is swept at this period (so a timeout
  // fires up to one period late). Cheaper than a timer per operation.
  std::chrono::milliseconds sweep_period{250};
  // Chunk extensions (total bytes per request) and the bytes a request may take beyond its header
  // and body limits for chunk framing.
  std::size_t max_chunk_extensions = 1024;
  std::size_t framing_allowance = 4 * 1024;
  // HTTPS on this port (nullptr: plain HTTP). REQUIRES: outlives the server.
  TlsContext* tls = nullptr;
  // Operator-facing events (accept failures, overload); never called with request contents.
  std::function<void(std::string_view event, std::string_view detail)> log;
};

class Server {
 public:
  // REQUIRES: `handler` outlives the server.
  Server(ServerOptions options, Handler& handler);
  // Stops (with a zero grace period) if still running.
  // REQUIRES: every Responder handed out has been used or destroyed — i.e. whatever answers
  // asynchronously (the vote intake) has delivered all its callbacks. A Responder that outlives the
  // server only leaks its connection.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on `endpoint` (port 0 picks a free port), starts the threads. Returns the
  // bound endpoint, or an error naming the address and the cause (address in use, permission).
  core::Result<boost::asio::ip::tcp::endpoint> Start(
      const boost::asio::ip::tcp::endpoint& endpoint);

  // Graceful stop: stops accepting, closes idle connections, lets requests in progress finish
  // (their responses carry "Connection: close") for up to `grace`, then closes everything and joins
  // the threads. Idempotent. REQUIRES: not called from a server thread.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));

  // Connections currently open. Thread-safe.
  std::size_t connections() const;
  // The connection cap in force (after Start). Thread-safe.
  std::size_t max_connections() const;
  // Counters for /metrics, thread-safe: connections closed at accept because the server or the
  // client was at its cap, or descriptors ran out; requests answered 429 by a client's bucket;
  // idle connections shed under pressure.
  std::uint64_t connections_refused() const;
  std::uint64_t requests_rate_limited() const;
  std::uint64_t idle_connections_shed() const;
  // TLS handshakes that failed (plain HTTP on the HTTPS port, a protocol or cipher the server
  // refuses, a client that gave up). Thread-safe.
  std::uint64_t tls_handshakes_failed() const;

  // What a 400/413/415/431 costs its sender, in tokens of its bucket (a valid request costs 1).
  static constexpr double kMalformedCost = 5;
  // True from the start of Stop(); handlers may report it (e.g. health). Thread-safe.
  bool stopping() const;

  // Implementation details, defined in server.cpp.
  struct Shared;  // what every connection shares: options, handler, counters
  struct Worker;  // one io_context and its thread

 private:
  void Accept();
  // Counts and hands a new connection to its worker, or closes it when the server or its client
  // is at the cap.
  void Admit(const std::shared_ptr<Worker>& w, boost::asio::ip::tcp::socket socket);
  // Out of descriptors: gives up the reserve one, accepts and closes what is pending, takes the
  // reserve back.
  void AcceptAndDropPending();

  ServerOptions options_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::shared_ptr<Worker>> workers_;
  struct Listener;
  std::unique_ptr<Listener> listener_;
  bool started_ = false;
  bool stopped_ = false;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (best effort) and returns the connection cap
// that leaves a reserve of descriptors for stores, backends and files: limit - clamp(limit / 8,
// 64, 1024), at least 16. `requested` (non-zero) lowers it further.
std::size_t RaiseFileLimit(std::size_t requested = 0);

// Parses "host:port", "[ipv6]:port" or ":port" (all interfaces) into an endpoint. Host must be a
// numeric address or "localhost". Error with one sentence otherwise.
core::Result<boost::asio::ip::tcp::endpoint> ParseListenAddress(std::string_view text);

// {"error": code, "message": message} as a JSON text.
std::string ErrorBody(std::string_view code, std::string_view message);

}  // namespace scrutin::http

// Server: the HTTP/1.1 front end of every scrutin process that speaks HTTP — Boost.Beast over Asio,
// one io_context per thread, connections spread round-robin over the threads.
//
// What it guarantees to a Handler and to clients:
//   - HTTP/1.1 keep-alive (and HTTP/1.0 with "Connection: keep-alive"), one request at a time per
//     connection (pipelined requests wait in the buffer until the previous response is written);
//   - bounded input: request header at most header_limit bytes (431 beyond), body at most
//     body_limit bytes (413 beyond — decided from Content-Length before the body is read, and
//     enforced while reading a chunked body); malformed requests get 400; each then closes;
//   - timeouts: an idle keep-alive connection is closed after idle_timeout, a request that has
//     started to arrive must be complete within request_timeout, a response written within
//     write_timeout; the time a Handler takes is not bounded here;
//   - at most max_connections connections at once (further connections are closed at accept);
//   - Expect: 100-continue is honoured;
//   - HEAD is answered like GET by the handler, without the body;
//   - every error the server itself produces has a JSON body {"error", "message"};
//   - bytes of a request are wiped from the read buffer once parsed (see wiping_buffer.hpp).
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

namespace scrutin::http {

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
  std::size_t max_connections = 10000;
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 4 * 1024;
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  // How timeouts are checked: every connection's deadline is swept at this period (so a timeout
  // fires up to one period late). Cheaper than a timer per operation.
  std::chrono::milliseconds sweep_period{250};
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
  // True from the start of Stop(); handlers may report it (e.g. health). Thread-safe.
  bool stopping() const;

  // Implementation details, defined in server.cpp.
  struct Shared;  // what every connection shares: options, handler, counters
  struct Worker;  // one io_context and its thread

 private:
  void Accept();

  ServerOptions options_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::shared_ptr<Worker>> workers_;
  struct Listener;
  std::unique_ptr<Listener> listener_;
  bool started_ = false;
  bool stopped_ = false;
};

// Parses "host:port", "[ipv6]:port" or ":port" (all interfaces) into an endpoint. Host must be a
// numeric address or "localhost". Error with one sentence otherwise.
core::Result<boost::asio::ip::tcp::endpoint> ParseListenAddress(std::string_view text);

// {"error": code, "message": message} as a JSON text.
std::string ErrorBody(std::string_view code, std::string_view message);

}  // namespace scrutin::http

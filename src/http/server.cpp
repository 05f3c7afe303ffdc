#include "http/server.hpp"

#include <string.h>
#include <strings.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "http/json.hpp"
#include "http/wiping_buffer.hpp"

namespace scrutin::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// What every connection of one server shares.
struct Server::Shared {
  ServerOptions options;
  Handler* handler = nullptr;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopping{false};

  void Log(std::string_view event, std::string_view detail) const {
    if (options.log) options.log(event, detail);
  }
};

namespace {

// The Date header value, formatted once per second per thread.
std::string_view HttpDate() {
  thread_local std::time_t cached_second = -1;
  thread_local char buf[40];
  thread_local std::size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    len = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return {buf, len};
}

}  // namespace

void Response::AddHeader(std::string_view name, std::string_view value) {
  headers.append(name);
  headers.append(": ");
  headers.append(value);
  headers.append("\r\n");
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  std::string out;
  out.reserve(64 + message.size());
  JsonObject(out).Str("error", code).Str("message", message).Close();
  return out;
}

namespace detail {
class Connection;
}  // namespace detail

struct Server::Worker {
  explicit Worker(std::shared_ptr<Server::Shared> s) : shared(std::move(s)) {}

  // Responses handed over by other threads (Connection::Deliver), written by one posted drain at
  // a time: a group commit answers dozens of votes at once, and one wake-up of this thread (one
  // eventfd write, one queued handler) then serves them all instead of one per vote.
  using Delivery = std::pair<std::shared_ptr<detail::Connection>, Response>;
  std::mutex inbox_mu;
  std::vector<Delivery> inbox;     // GUARDED_BY(inbox_mu)
  bool drain_posted = false;       // GUARDED_BY(inbox_mu)
  std::vector<Delivery> draining;  // this worker's thread only

  std::shared_ptr<Server::Shared> shared;
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  net::steady_timer sweeper{ioc};
  bool sweeping = true;
  detail::Connection* head = nullptr;  // open connections of this worker (its thread only)
  std::thread thread;
};

namespace detail {

// One client connection. Lives on its worker's thread; only Deliver may be called from elsewhere.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Server::Worker> worker, tcp::socket socket)
      : worker_(std::move(worker)),
        shared_(*worker_->shared),
        socket_(std::move(socket)),
        buffer_(shared_.options.header_limit + 4096) {}

  void Start() {
    Link();
    beast::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    ReadRequest();
  }

  // Any thread. Hands the response to the connection's thread.
  void Deliver(Response r) {
    if (tls_in_handler_ == this) {
      response_ = std::move(r);
      has_response_ = true;
      return;
    }
    bool post = false;
    {
      std::lock_guard lock(worker_->inbox_mu);
      worker_->inbox.emplace_back(shared_from_this(), std::move(r));
      post = !std::exchange(worker_->drain_posted, true);
    }
    if (post) net::post(worker_->ioc, [w = worker_] { DrainInbox(*w); });
  }

  // Worker thread: writes every response delivered since the last drain.
  static void DrainInbox(Server::Worker& w) {
    {
      std::lock_guard lock(w.inbox_mu);
      w.draining.swap(w.inbox);
      w.drain_posted = false;
    }
    for (auto& [connection, response] : w.draining) {
      connection->response_ = std::move(response);
      connection->has_response_ = true;
      connection->WriteResponse();
    }
    w.draining.clear();  // releases the connections
  }

  // Worker thread: the server stops; finish what is in progress, then close.
  void OnServerStopping() {
    close_after_ = true;
    if (state_ == State::kIdle) Expire();
  }

  // Worker thread: close now. Pending operations complete with an error and end the connection.
  void Expire() {
    if (state_ == State::kClosed) return;
    if (state_ == State::kHandling) {
      Close();  // no operation pending; a late response finds the connection closed
      return;
    }
    beast::error_code ec;
    socket_.close(ec);
  }

  bool TimedOut(SteadyClock::time_point now) const {
    return state_ != State::kHandling && state_ != State::kClosed && socket_.is_open() &&
           now >= deadline_;
  }

  Connection* next = nullptr;
  Connection* prev = nullptr;

 private:
  enum class State : std::uint8_t { kIdle, kReading, kHandling, kWriting, kLingering, kClosed };

  void Link() {
    next = worker_->head;
    if (next) next->prev = this;
    worker_->head = this;
  }

  void Unlink() {
    if (prev) prev->next = next;
    if (next) next->prev = prev;
    if (worker_->head == this) worker_->head = next;
    prev = next = nullptr;
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    Unlink();
    beast::error_code ec;
    socket_.close(ec);
    buffer_.Clear();
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void ReadRequest() {
    if (close_after_ || shared_.stopping.load(std::memory_order_relaxed)) {
      if (buffer_.size() == 0) return Close();
      close_after_ = true;
    }
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.header_limit));
    parser_->body_limit(shared_.options.body_limit);
    parser_->eager(false);  // stop after the header: Expect and limits are checked first
    header_seen_ = false;
    if (buffer_.size() == 0) {
      state_ = State::kIdle;
      deadline_ = SteadyClock::now() + shared_.options.idle_timeout;
    } else {
      state_ = State::kReading;
      deadline_ = SteadyClock::now() + shared_.options.request_timeout;
    }
    DoRead();
  }

  // Feeds the buffered bytes to the parser and acts on the outcome: a complete request, a refusal,
  // an interim 100 Continue, or a read for more bytes. The read loop is ours rather than Beast's
  // so that the request timeout starts with the first byte of a request.
  void DoRead() {
    while (buffer_.size() > 0) {
      beast::error_code ec;
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec && ec != bhttp::error::need_more) return OnParseError(ec);
      if (!header_seen_ && parser_->is_header_done()) {
        header_seen_ = true;
        parser_->eager(true);  // from now on, parse the body as it comes
        auto expect = parser_->get()[bhttp::field::expect];
        if (!parser_->is_done() && buffer_.size() == 0 && expect.size() == 12 &&
            strncasecmp(expect.data(), "100-continue", 12) == 0) {
          return SendContinue();
        }
      }
      if (parser_->is_done()) return OnRequest();
      if (ec || used == 0) break;  // need more bytes
    }
    socket_.async_read_some(
        buffer_.prepare(buffer_.capacity() - buffer_.size()),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(beast::error_code ec, std::size_t n) {
    if (state_ == State::kClosed) return;
    // Peer closed (possibly mid-request), timeout (the sweeper closed the socket), network error:
    // there is nobody to answer.
    if (ec) return Close();
    buffer_.commit(n);
    if (state_ == State::kIdle) {
      state_ = State::kReading;
      deadline_ = SteadyClock::now() + shared_.options.request_timeout;
    }
    DoRead();
  }

  void OnParseError(beast::error_code ec) {
    WipeParsedBody();
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return SendServerError(431, "header_too_large",
                             "The request header is too large (at most " +
                                 std::to_string(shared_.options.header_limit) + " bytes).");
    }
    if (ec == bhttp::error::body_limit) {
      return SendServerError(413, "payload_too_large",
                             "The request body is too large (at most " +
                                 std::to_string(shared_.options.body_limit) + " bytes).");
    }
    SendServerError(400, "bad_request", "The request is not valid HTTP/1.1.");
  }

  void SendContinue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->Close();
                       if (self->state_ != State::kClosed) self->DoRead();
                     });
  }

  void OnRequest() {
    state_ = State::kHandling;
    request_ = parser_->release();
    parser_.reset();
    keep_alive_ = request_.keep_alive();
    head_request_ = request_.method() == bhttp::verb::head;
    http10_ = request_.version() < 11;
    tls_in_handler_ = this;
    try {
      shared_.handler->Handle(request_, Responder(shared_from_this()));
    } catch (const std::exception& e) {
      shared_.Log("handler_exception", e.what());
    } catch (...) {
      shared_.Log("handler_exception", "unknown exception");
    }
    tls_in_handler_ = nullptr;
    if (has_response_) WriteResponse();
  }

  void SendServerError(unsigned status, std::string_view code, std::string_view message) {
    keep_alive_ = false;
    head_request_ = false;
    Response r;
    r.status = status;
    r.body = ErrorBody(code, message);
    r.AddHeader("Cache-Control", "no-store");
    response_ = std::move(r);
    has_response_ = true;
    WriteResponse();
  }

  void WriteResponse() {
    if (state_ == State::kClosed || !has_response_) return;
    has_response_ = false;
    close_after_write_ =
        !keep_alive_ || close_after_ || shared_.stopping.load(std::memory_order_relaxed);
    SerializeHead();
    state_ = State::kWriting;
    deadline_ = SteadyClock::now() + shared_.options.write_timeout;
    std::array<net::const_buffer, 2> buffers{
        net::buffer(head_), head_request_ ? net::const_buffer() : net::buffer(response_.body)};
    net::async_write(
        socket_, buffers,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnWrite(ec); });
  }

  void SerializeHead() {
    head_.clear();
    head_.append("HTTP/1.1 ");
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, response_.status);
    head_.append(num, r.ptr);
    head_.push_back(' ');
    auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(response_.status));
    head_.append(reason.data(), reason.size());
    head_.append("\r\nDate: ");
    head_.append(HttpDate());
    if (!response_.content_type.empty()) {
      head_.append("\r\nContent-Type: ");
      head_.append(response_.content_type);
    }
    // No Content-Length on 1xx/204/304 (RFC 9110 8.6: it would have to be the would-be length).
    if (response_.status >= 200 && response_.status != 204 && response_.status != 304) {
      head_.append("\r\nContent-Length: ");
      r = std::to_chars(num, num + sizeof num, response_.body.size());
      head_.append(num, r.ptr);
    }
    if (close_after_write_) {
      head_.append("\r\nConnection: close");
    } else if (http10_) {
      head_.append("\r\nConnection: keep-alive");
    }
    head_.append("\r\n");
    head_.append(response_.headers);
    head_.append("\r\n");
  }

  void OnWrite(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    response_.body.clear();
    response_.headers.clear();
    // The handler may have wiped the body already; make sure whatever it did.
    if (!request_.body().empty()) explicit_bzero(request_.body().data(), request_.body().size());
    request_ = {};
    if (ec) return Close();
    if (close_after_write_) return LingeringClose();
    ReadRequest();
  }

  // Closing right after a response can make the kernel reset the connection (unread request bytes)
  // and destroy the response before the client reads it: send FIN, then drain what the client
  // still sends for a short while.
  void LingeringClose() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    state_ = State::kLingering;
    deadline_ = SteadyClock::now() + std::chrono::seconds(2);
    buffer_.Clear();
    Drain();
  }

  void Drain() {
    socket_.async_read_some(buffer_.prepare(buffer_.capacity()),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec || self->state_ == State::kClosed) return self->Close();
                              self->buffer_.Clear();
                              self->Drain();
                            });
  }

  // A request refused half-way may have left part of its body in the parser.
  void WipeParsedBody() {
    if (!parser_) return;
    std::string& body = parser_->get().body();
    if (!body.empty()) explicit_bzero(body.data(), body.size());
  }

  static thread_local Connection* tls_in_handler_;

  std::shared_ptr<Server::Worker> worker_;
  Server::Shared& shared_;
  tcp::socket socket_;
  WipingBuffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request request_;
  Response response_;
  std::string head_;
  SteadyClock::time_point deadline_{};
  State state_ = State::kIdle;
  bool header_seen_ = false;
  bool has_response_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool http10_ = false;
  bool close_after_ = false;
  bool close_after_write_ = false;
};

thread_local Connection* Connection::tls_in_handler_ = nullptr;

}  // namespace detail

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (connection_) {
      Response r;
      r.status = 500;
      r.body = ErrorBody("internal_error", "The server could not answer this request.");
      connection_->Deliver(std::move(r));
    }
    connection_ = std::move(other.connection_);
  }
  return *this;
}

Responder::~Responder() {
  if (!connection_) return;
  Response r;
  r.status = 500;
  r.body = ErrorBody("internal_error", "The server could not answer this request.");
  connection_->Deliver(std::move(r));
}

void Responder::Send(Response response) {
  if (!connection_) return;
  auto c = std::move(connection_);
  c->Deliver(std::move(response));
}

struct Server::Listener {
  explicit Listener(net::io_context& ioc) : acceptor(ioc), retry(ioc) {}
  tcp::acceptor acceptor;
  net::steady_timer retry;
  std::size_t next = 0;
  SteadyClock::time_point last_overload_log{};
};

namespace {

void Sweep(const std::shared_ptr<Server::Worker>& w) {
  w->sweeper.expires_after(w->shared->options.sweep_period);
  w->sweeper.async_wait([w](beast::error_code ec) {
    if (ec || !w->sweeping) return;
    auto now = SteadyClock::now();
    for (detail::Connection* c = w->head; c != nullptr;) {
      detail::Connection* next = c->next;
      if (c->TimedOut(now)) c->Expire();
      c = next;
    }
    Sweep(w);
  });
}

}  // namespace

Server::Server(ServerOptions options, Handler& handler) : options_(std::move(options)) {
  auto shared = std::make_shared<Shared>();
  shared->options = options_;
  shared->handler = &handler;
  shared_ = std::move(shared);
}

Server::~Server() {
  Stop(std::chrono::milliseconds(0));
  // Run what foreign threads posted after the threads stopped (late responses to closed
  // connections), so that the connections they hold are released with the io_contexts.
  for (auto& w : workers_) {
    w->ioc.restart();
    while (w->ioc.poll() > 0) {
    }
  }
}

core::Result<tcp::endpoint> Server::Start(const tcp::endpoint& endpoint) {
  if (started_) return core::Fail(std::string("the server is already started"));
  int n = options_.threads > 0
              ? options_.threads
              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_shared<Worker>(shared_));
  listener_ = std::make_unique<Listener>(workers_[0]->ioc);
  auto& acceptor = listener_->acceptor;
  beast::error_code ec;
  auto fail = [&](std::string_view what) {
    return core::Fail("cannot " + std::string(what) + " " + endpoint.address().to_string() + ":" +
                      std::to_string(endpoint.port()) + ": " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("set options on");
  acceptor.bind(endpoint, ec);
  if (ec) return fail("listen on");
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return fail("read the address of");
  started_ = true;
  Accept();
  for (auto& w : workers_) {
    Sweep(w);
    w->thread = std::thread([w] { w->ioc.run(); });
  }
  return bound;
}

void Server::Accept() {
  auto w = workers_[listener_->next++ % workers_.size()];
  listener_->acceptor.async_accept(w->ioc, [this, w](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !listener_->acceptor.is_open()) return;
    if (ec) {
      shared_->Log("accept_failed", ec.message());
      // Out of descriptors or memory: back off instead of spinning on the error.
      listener_->retry.expires_after(std::chrono::milliseconds(100));
      listener_->retry.async_wait([this](beast::error_code ec) {
        if (!ec && listener_->acceptor.is_open()) Accept();
      });
      return;
    }
    if (shared_->connections.load(std::memory_order_relaxed) >= options_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
      auto now = SteadyClock::now();
      if (now - listener_->last_overload_log > std::chrono::seconds(1)) {
        listener_->last_overload_log = now;
        shared_->Log("connection_refused",
                     "max_connections (" + std::to_string(options_.max_connections) + ") reached");
      }
    } else {
      shared_->connections.fetch_add(1, std::memory_order_relaxed);
      auto c = std::make_shared<detail::Connection>(w, std::move(socket));
      net::post(w->ioc, [c] { c->Start(); });
    }
    Accept();
  });
}

void Server::Stop(std::chrono::milliseconds grace) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  shared_->stopping.store(true);
  // Stop accepting; tell every connection to finish what it is doing.
  net::post(workers_[0]->ioc, [l = listener_.get()] {
    beast::error_code ec;
    l->acceptor.close(ec);
    l->retry.cancel();
  });
  for (auto& w : workers_) {
    net::post(w->ioc, [w] {
      for (detail::Connection* c = w->head; c != nullptr;) {
        detail::Connection* next = c->next;
        c->OnServerStopping();
        c = next;
      }
    });
  }
  auto wait_for_connections = [&](SteadyClock::time_point deadline) {
    while (shared_->connections.load() > 0 && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  wait_for_connections(SteadyClock::now() + grace);
  // Grace is over: close whatever is left.
  for (auto& w : workers_) {
    net::post(w->ioc, [w] {
      w->sweeping = false;
      w->sweeper.cancel();
      for (detail::Connection* c = w->head; c != nullptr;) {
        detail::Connection* next = c->next;
        c->Expire();
        c = next;
      }
    });
  }
  wait_for_connections(SteadyClock::now() + std::chrono::seconds(1));
  for (auto& w : workers_) {
    w->work.reset();
    w->ioc.stop();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::size_t Server::connections() const {
  return shared_->connections.load(std::memory_order_relaxed);
}

bool Server::stopping() const { return shared_->stopping.load(std::memory_order_relaxed); }

core::Result<tcp::endpoint> ParseListenAddress(std::string_view text) {
  auto fail = [&] {
    return core::Fail("listen address '" + std::string(text) +
                      "' is not of the form host:port (e.g. 127.0.0.1:8000, [::1]:8000, :8000)");
  };
  std::string_view host, port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail();
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail();
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail();
  }
  unsigned p = 0;
  auto r = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() || p > 65535) {
    return fail();
  }
  net::ip::address address;
  if (host.empty()) {
    address = net::ip::address_v4::any();
  } else if (host == "localhost") {
    address = net::ip::address_v4::loopback();
  } else {
    beast::error_code ec;
    address = net::ip::make_address(std::string(host), ec);
    if (ec) return fail();
  }
  return tcp::endpoint(address, static_cast<unsigned short>(p));
}

}  // namespace scrutin::http

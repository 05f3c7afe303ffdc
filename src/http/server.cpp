#include "http/server.hpp"

#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

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
#include "http/request_reader.hpp"
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
  std::size_t max_connections = 0;  // set by Start
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> rate_limited{0};
  std::atomic<std::uint64_t> shed{0};

  // Near the cap, idle keep-alive connections are closed after kShedIdleAfter instead of
  // idle_timeout, so that new clients find room.
  bool UnderPressure() const {
    return connections.load(std::memory_order_relaxed) * 8 >= max_connections * 7;
  }

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
  // `counted`: the connection was counted against its peer's cap in the ClientTable (released on
  // close).
  Connection(std::shared_ptr<Server::Worker> worker, tcp::socket socket, net::ip::address peer,
             bool counted)
      : worker_(std::move(worker)),
        shared_(*worker_->shared),
        socket_(std::move(socket)),
        buffer_(shared_.options.header_limit + 4096),
        reader_(ReaderLimits{shared_.options.header_limit, shared_.options.body_limit,
                             shared_.options.max_chunk_extensions,
                             shared_.options.framing_allowance, buffer_.capacity()}),
        peer_(std::move(peer)),
        client_(peer_),
        counted_(counted) {}

  void Start() {
    Link();
    beast::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    if (shared_.options.trusted_proxies.Contains(peer_)) {
      trusted_peer_ = true;
      state_ = State::kProxyHeader;
      deadline_ = SteadyClock::now() + shared_.options.request_timeout;
      return ReadProxyHeader();
    }
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
    if (state_ == State::kIdle || state_ == State::kPaused) Expire();
  }

  // Worker thread: close now. Pending operations complete with an error and end the connection.
  void Expire() {
    if (state_ == State::kClosed) return;
    if (state_ == State::kHandling || state_ == State::kPaused) {
      auto keep = std::move(paused_self_);  // released once Close has returned
      Close();  // no operation pending; a late response finds the connection closed
      return;
    }
    beast::error_code ec;
    socket_.close(ec);
  }

  // Worker thread, from the sweeper: ends what has run out of time, resumes a paused connection.
  void Sweep(SteadyClock::time_point now, bool pressure) {
    if (state_ == State::kHandling || state_ == State::kClosed || !socket_.is_open()) return;
    if (state_ == State::kPaused) {
      if (now < deadline_) return;
      auto keep = std::move(paused_self_);
      return ReadRequest();
    }
    if (now >= deadline_) return Expire();
    if (pressure && state_ == State::kIdle && now - idle_since_ >= kShedIdleAfter) {
      shared_.shed.fetch_add(1, std::memory_order_relaxed);
      Expire();
    }
  }

  Connection* next = nullptr;
  Connection* prev = nullptr;

 private:
  enum class State : std::uint8_t {
    kProxyHeader,  // a trusted proxy's connection: reading its PROXY header, if it sends one
    kIdle,
    kReading,
    kHandling,
    kWriting,
    kPaused,  // rate-limited: not read again before deadline_
    kLingering,
    kClosed
  };
  static constexpr auto kShedIdleAfter = std::chrono::seconds(1);
  static constexpr auto kMaxPause = std::chrono::seconds(1);

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
    if (counted_) shared_.options.clients->CloseConnection(ClientKey::From(peer_));
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }

  // A trusted proxy may start the connection with a PROXY header naming the client; without one,
  // each request's X-Forwarded-For does (ForwardedClient).
  void ReadProxyHeader() {
    std::string_view bytes(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    ProxyHeader header = ParseProxyHeader(bytes);
    switch (header.status) {
      case ProxyHeader::Status::kNeedMore:
        if (bytes.size() >= ProxyHeader::kMaxBytes) return Close();
        socket_.async_read_some(
            buffer_.prepare(buffer_.capacity() - buffer_.size()),
            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
              if (self->state_ == State::kClosed) return;
              if (ec) return self->Close();
              self->buffer_.commit(n);
              self->ReadProxyHeader();
            });
        return;
      case ProxyHeader::Status::kInvalid:
        shared_.Log("proxy_header_invalid", peer_.to_string());
        return Close();
      case ProxyHeader::Status::kParsed:
        buffer_.consume(header.consumed);
        if (header.source) {
          client_ = *header.source;
          client_from_proxy_header_ = true;
        }
        break;
      case ProxyHeader::Status::kAbsent:
        break;
    }
    ReadRequest();
  }

  void ReadRequest() {
    if (close_after_ || shared_.stopping.load(std::memory_order_relaxed)) {
      if (buffer_.size() == 0) return Close();
      close_after_ = true;
    }
    reader_.Start();
    if (buffer_.size() == 0) {
      state_ = State::kIdle;
      idle_since_ = SteadyClock::now();
      deadline_ = idle_since_ + shared_.options.idle_timeout;
    } else {
      state_ = State::kReading;
      deadline_ = SteadyClock::now() + shared_.options.request_timeout;
    }
    DoRead();
  }

  // Feeds the buffered bytes to the reader and acts on the outcome: a complete request, a
  // refusal, an interim 100 Continue, or a read for more bytes. The read loop is ours rather than
  // Beast's so that the request timeout starts with the first byte of a request.
  void DoRead() {
    if (buffer_.size() > 0) {
      std::string_view available(static_cast<const char*>(buffer_.data().data()), buffer_.size());
      RequestReader::Step step =
          reader_.Feed(available, buffer_.size() == buffer_.capacity());
      buffer_.consume(step.consumed);
      switch (step.kind) {
        case RequestReader::Step::Kind::kComplete:
          return OnRequest();
        case RequestReader::Step::Kind::kRefused:
          ChargeMalformed();
          return SendServerError(step.status, step.code, step.message);
        case RequestReader::Step::Kind::kContinue:
          return SendContinue();
        case RequestReader::Step::Kind::kNeedMore:
          break;
      }
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

  void SendContinue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->Close();
                       if (self->state_ != State::kClosed) self->DoRead();
                     });
  }

  // The client this request speaks for (see ServerOptions::trusted_proxies).
  ClientKey RequestClient() const {
    if (!trusted_peer_ || client_from_proxy_header_) return ClientKey::From(client_);
    std::string forwarded;
    auto [first, last] = request_.equal_range("X-Forwarded-For");
    for (auto it = first; it != last; ++it) {
      if (!forwarded.empty()) forwarded.push_back(',');
      forwarded.append(it->value().data(), it->value().size());
      if (forwarded.size() > 1024) break;
    }
    return ClientKey::From(ForwardedClient(peer_, forwarded, shared_.options.trusted_proxies));
  }

  static ClientTable::Bucket BucketOf(bhttp::verb method) {
    return method == bhttp::verb::get || method == bhttp::verb::head ||
                   method == bhttp::verb::options
               ? ClientTable::Bucket::kRead
               : ClientTable::Bucket::kWrite;
  }

  // A request the server refused before it was whole: its sender pays the malformed price, in
  // both buckets (its method may not even be known).
  void ChargeMalformed() {
    if (shared_.options.clients == nullptr) return;
    const ClientKey key = ClientKey::From(client_);
    shared_.options.clients->Charge(key, ClientTable::Bucket::kWrite, Server::kMalformedCost);
    shared_.options.clients->Charge(key, ClientTable::Bucket::kRead, Server::kMalformedCost);
  }

  void OnRequest() {
    state_ = State::kHandling;
    request_ = reader_.Release();
    keep_alive_ = request_.keep_alive();
    head_request_ = request_.method() == bhttp::verb::head;
    http10_ = request_.version() < 11;
    if (shared_.options.clients != nullptr) {
      request_client_ = RequestClient();
      request_bucket_ = BucketOf(request_.method());
      auto d = shared_.options.clients->Admit(request_client_, request_bucket_);
      if (!d.allowed) return RefuseRateLimited(d.retry_after);
    }
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

  // 429 from the client's own bucket; the connection then rests until Retry-After.
  void RefuseRateLimited(std::chrono::nanoseconds retry_after) {
    shared_.rate_limited.fetch_add(1, std::memory_order_relaxed);
    if (!request_.body().empty()) explicit_bzero(request_.body().data(), request_.body().size());
    const auto seconds =
        std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(retry_after).count());
    Response r;
    r.status = 429;
    JsonObject(r.body)
        .Str("error", "rate_limited")
        .Str("scope", "client")
        .Str("message",
             "Too many requests from your network address; please retry in a moment.")
        .Close();
    r.AddHeader("Retry-After", std::to_string(seconds));
    r.AddHeader("Cache-Control", "no-store");
    pause_for_ = std::min<SteadyClock::duration>(retry_after, kMaxPause);
    response_ = std::move(r);
    has_response_ = true;
    WriteResponse();
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
    // A handler's refusal of a malformed request costs its sender more (ServerOptions).
    if (shared_.options.clients != nullptr && state_ == State::kHandling) {
      const unsigned st = response_.status;
      if (st == 400 || st == 413 || st == 415 || st == 431) {
        shared_.options.clients->Charge(request_client_, request_bucket_,
                                        Server::kMalformedCost - 1);
      }
    }
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
    if (pause_for_.count() > 0) {
      // Rate-limited: the sweeper resumes reading once the pause is over.
      state_ = State::kPaused;
      deadline_ = SteadyClock::now() + pause_for_;
      pause_for_ = {};
      paused_self_ = shared_from_this();  // no operation pending holds the connection meanwhile
      return;
    }
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

  static thread_local Connection* tls_in_handler_;

  std::shared_ptr<Server::Worker> worker_;
  Server::Shared& shared_;
  tcp::socket socket_;
  WipingBuffer buffer_;
  RequestReader reader_;
  Request request_;
  Response response_;
  std::string head_;
  const net::ip::address peer_;  // the TCP peer
  net::ip::address client_;      // the peer, or the client a trusted proxy's PROXY header names
  ClientKey request_client_;     // who the request being handled speaks for
  ClientTable::Bucket request_bucket_ = ClientTable::Bucket::kWrite;
  SteadyClock::time_point deadline_{};
  SteadyClock::time_point idle_since_{};
  SteadyClock::duration pause_for_{};
  std::shared_ptr<Connection> paused_self_;  // set only while kPaused
  State state_ = State::kIdle;
  const bool counted_;
  bool trusted_peer_ = false;
  bool client_from_proxy_header_ = false;
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
  ~Listener() {
    if (reserve_fd >= 0) ::close(reserve_fd);
  }
  tcp::acceptor acceptor;
  net::steady_timer retry;
  std::size_t next = 0;
  // A descriptor kept open to be given up when the process runs out (EMFILE): closing it lets the
  // pending connections be accepted and closed, instead of left in the backlog (libuv's trick).
  int reserve_fd = -1;
  SteadyClock::time_point last_overload_log{};

  // Rate-limits operator log lines about refusals to one a second.
  bool ShouldLog() {
    auto now = SteadyClock::now();
    if (now - last_overload_log < std::chrono::seconds(1)) return false;
    last_overload_log = now;
    return true;
  }
};

namespace {

void Sweep(const std::shared_ptr<Server::Worker>& w) {
  w->sweeper.expires_after(w->shared->options.sweep_period);
  w->sweeper.async_wait([w](beast::error_code ec) {
    if (ec || !w->sweeping) return;
    const auto now = SteadyClock::now();
    const bool pressure = w->shared->UnderPressure();
    for (detail::Connection* c = w->head; c != nullptr;) {
      detail::Connection* next = c->next;
      c->Sweep(now, pressure);
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
  acceptor.non_blocking(true, ec);  // for the reserve-descriptor drain (AcceptAndDropPending)
  listener_->reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  shared_->max_connections = RaiseFileLimit(options_.max_connections);
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
    if (ec == net::error::no_descriptors || ec.value() == ENFILE) {
      AcceptAndDropPending();
      return Accept();
    }
    if (ec) {
      if (listener_->ShouldLog()) shared_->Log("accept_failed", ec.message());
      // Out of memory or buffers: back off instead of spinning on the error.
      listener_->retry.expires_after(std::chrono::milliseconds(10));
      listener_->retry.async_wait([this](beast::error_code ec) {
        if (!ec && listener_->acceptor.is_open()) Accept();
      });
      return;
    }
    Admit(w, std::move(socket));
    Accept();
  });
}

void Server::Admit(const std::shared_ptr<Worker>& w, tcp::socket socket) {
  auto refuse = [&](std::string_view why) {
    shared_->refused.fetch_add(1, std::memory_order_relaxed);
    // Close at once, with a reset: the client learns now instead of after a timeout, and no
    // state lingers in TIME_WAIT on our side.
    beast::error_code ignored;
    socket.set_option(net::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
    if (listener_->ShouldLog()) shared_->Log("connection_refused", why);
  };
  if (shared_->connections.load(std::memory_order_relaxed) >= shared_->max_connections) {
    return refuse("max_connections (" + std::to_string(shared_->max_connections) + ") reached");
  }
  beast::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) {
    socket.close(ec);  // already gone
    return;
  }
  bool counted = false;
  if (options_.clients != nullptr && !options_.trusted_proxies.Contains(peer.address())) {
    if (!options_.clients->OpenConnection(ClientKey::From(peer.address()))) {
      return refuse("a client reached its connection cap (" +
                    std::to_string(options_.clients->limits().max_connections) + ")");
    }
    counted = true;
  }
  shared_->connections.fetch_add(1, std::memory_order_relaxed);
  auto c = std::make_shared<detail::Connection>(w, std::move(socket), peer.address(), counted);
  net::post(w->ioc, [c] { c->Start(); });
}

void Server::AcceptAndDropPending() {
  if (listener_->ShouldLog()) {
    shared_->Log("connection_refused", "out of file descriptors: pending connections closed");
  }
  if (listener_->reserve_fd >= 0) {
    ::close(listener_->reserve_fd);
    listener_->reserve_fd = -1;
  }
  const int fd = listener_->acceptor.native_handle();
  for (int i = 0; i < 1024; ++i) {
    int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) break;  // EAGAIN: the backlog is empty (or still no descriptor: try next time)
    ::close(c);
    shared_->refused.fetch_add(1, std::memory_order_relaxed);
  }
  listener_->reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
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

std::size_t Server::max_connections() const { return shared_->max_connections; }

std::uint64_t Server::connections_refused() const {
  return shared_->refused.load(std::memory_order_relaxed);
}

std::uint64_t Server::requests_rate_limited() const {
  return shared_->rate_limited.load(std::memory_order_relaxed);
}

std::uint64_t Server::idle_connections_shed() const {
  return shared_->shed.load(std::memory_order_relaxed);
}

std::size_t RaiseFileLimit(std::size_t requested) {
  rlimit lim{};
  std::size_t limit = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    if (lim.rlim_cur < lim.rlim_max) {
      rlimit raised = lim;
      // An unlimited hard limit is capped where the kernel would refuse (fs.nr_open's default).
      raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : lim.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    limit = lim.rlim_cur == RLIM_INFINITY ? std::size_t{1} << 20 : lim.rlim_cur;
  }
  const std::size_t reserve = std::clamp<std::size_t>(limit / 8, 64, 1024);
  std::size_t cap = limit > reserve + 16 ? limit - reserve : 16;
  if (requested != 0) cap = std::min(cap, requested);
  return cap;
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

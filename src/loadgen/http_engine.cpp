#include "loadgen/http_engine.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <optional>

#include "loadgen/schedule.hpp"
#include "loadgen/tls_client.hpp"

namespace scrutin::loadgen {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

core::Result<Target> ParseTarget(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  Target t;
  std::string_view rest;
  if (url.substr(0, kHttp.size()) == kHttp) {
    rest = url.substr(kHttp.size());
  } else if (url.substr(0, kHttps.size()) == kHttps) {
    rest = url.substr(kHttps.size());
    t.https = true;
    t.port = 443;
  } else {
    return core::Fail(fmt::format("--target '{}': expected http(s)://host[:port]", url));
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    return core::Fail(
        fmt::format("--target '{}': give no path (use --path for the vote path)", url));
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos)
      return core::Fail(fmt::format("--target '{}': bad host", url));
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return core::Fail(fmt::format("--target '{}': bad host", url));
      port = after.substr(1);
    }
  } else if (const std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return core::Fail(fmt::format("--target '{}': no host", url));
  t.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return core::Fail(fmt::format("--target '{}': bad port", url));
    }
    t.port = static_cast<std::uint16_t>(value);
  }
  t.host_header = rest.empty() ? t.host : std::string(rest);
  if (port.empty()) t.host_header = fmt::format("{}:{}", rest, t.port);
  return t;
}

namespace {

constexpr std::uint64_t kMaxResponseBody = 64 * 1024;
constexpr auto kWatchdogPeriod = std::chrono::milliseconds(50);
constexpr auto kMinBackoff = std::chrono::milliseconds(20);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
// A connection idle for longer than this is checked for a close by the server before reuse (one
// poll(2)). Back-to-back reuse under load skips the check; anything idle longer is checked, so no
// server idle timeout, however short, makes a request fail on a connection it already closed.
constexpr auto kStaleCheckAfter = std::chrono::milliseconds(1);

// Keeps the status and the body of a response and nothing else, into buffers owned by the
// connection, so that parsing allocates nothing once they have grown.
class ResponseParser final : public http::basic_parser<false> {
 public:
  explicit ResponseParser(std::string& body) : body_(body) {
    body_.clear();
    body_limit(kMaxResponseBody);
  }
  int status() const { return status_; }

 private:
  void on_request_impl(http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view, int, error_code&) override {
    status_ = code;
  }
  void on_field_impl(http::field, boost::beast::string_view, boost::beast::string_view,
                     error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view s, error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view s, error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_finish_impl(error_code&) override {}

  std::string& body_;
  int status_ = 0;
};

// A counter written by one thread and read by others.
struct Counter {
  std::atomic<std::uint64_t> v{0};
  void Add(std::uint64_t n = 1) {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t Get() const { return v.load(std::memory_order_relaxed); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

class Engine::Connection {
 public:
  enum class State : std::uint8_t { kConnecting, kBackoff, kIdle, kBusy, kClosed };

  // `target`: index into EngineOptions::targets, the one this connection always talks to.
  Connection(Worker& worker, asio::io_context& ioc, unsigned target)
      : worker_(worker), target_(target), socket_(ioc), backoff_(ioc) {
    slot_.bytes.reserve(1024);
    body_.reserve(1024);
  }

  void Connect();
  void Send(SteadyClock::time_point due);
  // Closes the socket and cancels everything pending; the connection is not reopened.
  void Close();
  // Called by the worker's watchdog: closes a connection whose operation overran the timeout.
  void CheckTimeout(SteadyClock::time_point now, std::chrono::milliseconds timeout);
  // True when the connection sat idle for a while and the server has closed it meanwhile (or
  // sent something unasked): sending on it would fail, so the caller reopens it instead.
  bool StaleAfterIdle(SteadyClock::time_point now);
  void Reopen();

  RequestSlot& slot() { return slot_; }
  State state() const { return state_; }
  unsigned target() const { return target_; }

 private:
  void OnConnect(std::uint64_t gen, const error_code& ec);
  void OnHandshake(std::uint64_t gen, const error_code& ec);
  // The outcome of one attempt to open the connection (TCP, then TLS for an https target).
  void FinishAttempt(bool ready);
  void OnReady();
  // Closes the socket (and forgets the TLS session on it); pending operations complete with an
  // error that their handlers ignore by generation.
  void CloseSocket();
  void OnWrite(std::uint64_t gen, const error_code& ec);
  void OnRead(std::uint64_t gen, const error_code& ec);
  void Fail();
  void ScheduleRetry();

  Worker& worker_;
  const unsigned target_;
  tcp::socket socket_;
  // An https target's TLS layer over socket_, new for every connection. Shared with the handlers
  // of the operations in flight on it, so that closing the connection never frees it under them.
  std::shared_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer backoff_;
  boost::beast::flat_buffer buffer_;
  std::string body_;
  std::optional<ResponseParser> parser_;
  RequestSlot slot_;
  State state_ = State::kClosed;
  // Handlers of operations started before the socket was last closed carry an older generation
  // and are ignored.
  std::uint64_t gen_ = 0;
  bool timed_out_ = false;
  bool ever_connected_ = false;
  bool reported_first_attempt_ = false;
  std::chrono::milliseconds backoff_delay_ = kMinBackoff;
  SteadyClock::time_point due_{};
  SteadyClock::time_point op_started_{};
  SteadyClock::time_point idle_since_{};
};

class Engine::Worker {
 public:
  // `first_connection`: the number, over all threads, of this worker's first connection; the
  // connection numbered k talks to target k % n.
  Worker(Engine& engine, unsigned index, std::unique_ptr<Workload> workload, unsigned connections,
         unsigned first_connection)
      : engine_(engine),
        index_(index),
        ioc_(1),
        guard_(asio::make_work_guard(ioc_)),
        pace_timer_(ioc_),
        watchdog_(ioc_),
        workload_(std::move(workload)) {
    const EngineOptions& o = engine.options_;
    quota_ = o.max_requests == 0 ? UINT64_MAX : ThreadQuota(o.max_requests, o.threads, index);
    if (o.rate > 0) schedule_.emplace(o.rate, o.threads, index);
    targets_ = std::max<unsigned>(1, static_cast<unsigned>(o.targets.size()));
    next_target_ = first_connection % targets_;
    for (unsigned i = 0; i < connections; ++i) {
      connections_.push_back(
          std::make_unique<Connection>(*this, ioc_, (first_connection + i) % targets_));
    }
    idle_.resize(targets_);
    for (auto& list : idle_) list.reserve(connections / targets_ + 1);
  }

  // `endpoints`: those of each target, in the order of EngineOptions::targets.
  void Run(const std::vector<std::vector<tcp::endpoint>>& endpoints) {
    endpoints_ = &endpoints;
    asio::post(ioc_, [this] {
      for (auto& c : connections_) c->Connect();
      ArmWatchdog();
    });
    ioc_.run();
    engine_.OnWorkerDone();
  }

  void Begin(SteadyClock::time_point t0) {
    asio::post(ioc_, [this, t0] {
      t0_ = t0;
      const auto d = engine_.options_.duration;
      deadline_ = d.count() > 0 ? t0 + d : SteadyClock::time_point::max();
      begun_ = true;
      Pump();
    });
  }

  // --- called by connections (worker thread) ---
  void OnFirstAttempt() {
    if (++first_attempts_ == connections_.size()) engine_.OnWorkerReady();
  }
  void OnIdle(Connection* c) {
    if (finishing_) {
      c->Close();
      return;
    }
    idle_[c->target()].push_back(c);
    ++idle_count_;
    Pump();
  }
  void OnNotIdle(Connection* c) {
    auto& list = idle_[c->target()];
    const auto it = std::find(list.begin(), list.end(), c);
    if (it == list.end()) return;
    list.erase(it);
    --idle_count_;
  }
  void OnRequestDone() {
    --busy_;
    last_answer_ = SteadyClock::now();
    if (finishing_ && busy_ == 0) Shutdown();
  }

  const std::vector<tcp::endpoint>& endpoints(unsigned target) const {
    return (*endpoints_)[target];
  }
  const EngineOptions& options() const { return engine_.options_; }
  Workload& workload() { return *workload_; }
  bool finishing() const { return finishing_; }

  Counter sent, answered, timeouts, io_errors, connect_errors, reconnects, unsent;
  std::array<Counter, 600> by_status;
  LatencyHistogram latency;
  SteadyClock::time_point last_answer_{};
  std::atomic<bool> connected_once{false};

  // The first reason a TLS handshake failed; read by Engine::Start once the threads are joined.
  void NoteConnectError(std::string text) {
    if (tls_error_.empty()) tls_error_ = std::move(text);
  }
  const std::string& tls_error() const { return tls_error_; }

 private:
  friend class Engine;

  // Sends every request that is due while a connection is free.
  void Pump() {
    if (!begun_ || finishing_) return;
    const auto now = SteadyClock::now();
    while (true) {
      if (engine_.stop_requested() || next_ >= quota_ || exhausted_) return BeginFinish();
      SteadyClock::time_point due = now;
      if (schedule_) {
        due = t0_ + schedule_->DueAt(next_);
        if (due >= deadline_) return BeginFinish();
        if (now >= deadline_) {
          unsent.Add(schedule_->CountBefore(deadline_ - t0_) - next_);
          return BeginFinish();
        }
        if (due > now) return ArmPace(due);
      } else if (now >= deadline_) {
        return BeginFinish();
      }
      if (idle_count_ == 0) return;  // the request waits for a connection; its latency runs on
      auto& list = idle_[NextTargetWithIdle()];
      Connection* c = list.back();
      if (c->StaleAfterIdle(now)) {
        list.pop_back();
        --idle_count_;
        c->Reopen();
        continue;
      }
      if (!workload_->Prepare(c->slot())) {
        exhausted_ = true;
        return BeginFinish();
      }
      list.pop_back();
      --idle_count_;
      next_target_ = (c->target() + 1) % targets_;
      ++next_;
      ++busy_;
      sent.Add();
      c->Send(due);
    }
  }

  // The target of the next request (some connection is idle): the one whose turn it is, or the
  // next one in turn with an idle connection when it has none (it is down, or all its connections
  // are busy). The request then takes that target's most recently idle connection. Taking the
  // most recently idle connection of any target instead would let a few hot connections, perhaps
  // all to one target, carry a light load; in turn, the requests alternate over the targets as
  // behind a load balancer.
  unsigned NextTargetWithIdle() const {
    for (unsigned k = 0; k < targets_; ++k) {
      const unsigned t = (next_target_ + k) % targets_;
      if (!idle_[t].empty()) return t;
    }
    return next_target_;  // unreachable while idle_count_ > 0
  }

  void ArmPace(SteadyClock::time_point due) {
    if (pace_armed_ && pace_due_ <= due) return;
    pace_armed_ = true;
    pace_due_ = due;
    pace_timer_.expires_at(due);
    pace_timer_.async_wait([this](const error_code& ec) {
      pace_armed_ = false;
      if (!ec) Pump();
    });
  }

  void ArmWatchdog() {
    watchdog_.expires_after(kWatchdogPeriod);
    watchdog_.async_wait([this](const error_code& ec) {
      if (ec || shut_down_) return;
      const auto now = SteadyClock::now();
      for (auto& c : connections_) c->CheckTimeout(now, engine_.options_.timeout);
      Pump();
      ArmWatchdog();
    });
  }

  void BeginFinish() {
    if (finishing_) return;
    finishing_ = true;
    pace_timer_.cancel();
    for (auto& c : connections_) {
      if (c->state() != Connection::State::kBusy) c->Close();
    }
    for (auto& list : idle_) list.clear();
    idle_count_ = 0;
    if (busy_ == 0) Shutdown();
  }

  void Shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& c : connections_) c->Close();
    pace_timer_.cancel();
    watchdog_.cancel();
    guard_.reset();
  }

  Engine& engine_;
  unsigned index_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  asio::steady_timer pace_timer_;
  asio::steady_timer watchdog_;
  std::unique_ptr<Workload> workload_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::vector<Connection*>> idle_;  // per target, most recently idle last
  std::size_t idle_count_ = 0;                  // over all targets
  unsigned targets_ = 1;                        // EngineOptions::targets.size()
  unsigned next_target_ = 0;                    // the target whose turn it is
  const std::vector<std::vector<tcp::endpoint>>* endpoints_ = nullptr;
  std::optional<OpenLoopSchedule> schedule_;
  std::uint64_t quota_ = UINT64_MAX;
  std::uint64_t next_ = 0;
  unsigned busy_ = 0;
  std::size_t first_attempts_ = 0;
  SteadyClock::time_point t0_{};
  SteadyClock::time_point deadline_ = SteadyClock::time_point::max();
  SteadyClock::time_point pace_due_{};
  bool pace_armed_ = false;
  bool begun_ = false;
  bool finishing_ = false;
  bool exhausted_ = false;
  bool shut_down_ = false;
  std::string tls_error_;
};

// ---------------------------------------------------------------------------------------------

void Engine::Connection::Connect() {
  if (worker_.finishing()) {
    Close();
    return;
  }
  state_ = State::kConnecting;
  timed_out_ = false;
  op_started_ = SteadyClock::now();
  const std::uint64_t gen = ++gen_;
  asio::async_connect(
      socket_, worker_.endpoints(target_),
      [this, gen](const error_code& ec, const tcp::endpoint&) { OnConnect(gen, ec); });
}

void Engine::Connection::OnConnect(std::uint64_t gen, const error_code& ec) {
  if (gen != gen_) return;
  if (ec) return FinishAttempt(false);
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  const Target& target = worker_.options().targets[target_];
  if (!target.https) return FinishAttempt(true);
  tls_ = std::make_shared<asio::ssl::stream<tcp::socket&>>(socket_, *target.tls);
  if (auto ready = PrepareClientStream(*tls_, target.host); !ready.ok()) {
    worker_.NoteConnectError(ready.error());
    return FinishAttempt(false);
  }
  tls_->async_handshake(asio::ssl::stream_base::client,
                        [this, gen, keep = tls_](const error_code& e) { OnHandshake(gen, e); });
}

void Engine::Connection::OnHandshake(std::uint64_t gen, const error_code& ec) {
  if (gen != gen_) return;
  // A refused certificate is a failed attempt like a refused connect, retried with back-off;
  // Engine::Start says why when no connection could be opened at all.
  if (ec) worker_.NoteConnectError(HandshakeErrorText(ec, tls_ ? tls_->native_handle() : nullptr));
  FinishAttempt(!ec);
}

void Engine::Connection::FinishAttempt(bool ready) {
  // The first attempt is reported once its outcome is recorded: Engine::Start reads
  // connected_once as soon as every connection has reported.
  const bool first = !reported_first_attempt_;
  reported_first_attempt_ = true;
  if (ready) {
    OnReady();
  } else {
    worker_.connect_errors.Add();
    CloseSocket();
    ScheduleRetry();
  }
  if (first) worker_.OnFirstAttempt();
}

void Engine::Connection::OnReady() {
  if (ever_connected_) worker_.reconnects.Add();
  ever_connected_ = true;
  worker_.connected_once.store(true);
  backoff_delay_ = kMinBackoff;
  state_ = State::kIdle;
  idle_since_ = SteadyClock::now();
  worker_.OnIdle(this);
}

void Engine::Connection::CloseSocket() {
  error_code ignored;
  socket_.close(ignored);
  tls_.reset();
}

void Engine::Connection::ScheduleRetry() {
  if (worker_.finishing()) {
    state_ = State::kClosed;
    return;
  }
  state_ = State::kBackoff;
  backoff_.expires_after(backoff_delay_);
  backoff_delay_ = std::min(backoff_delay_ * 2, kMaxBackoff);
  const std::uint64_t gen = ++gen_;
  backoff_.async_wait([this, gen](const error_code& ec) {
    if (gen != gen_ || ec) return;
    Connect();
  });
}

void Engine::Connection::Send(SteadyClock::time_point due) {
  state_ = State::kBusy;
  due_ = due;
  op_started_ = SteadyClock::now();
  timed_out_ = false;
  parser_.emplace(body_);
  const std::uint64_t gen = gen_;
  if (tls_) {
    asio::async_write(
        *tls_, asio::buffer(slot_.bytes),
        [this, gen, keep = tls_](const error_code& ec, std::size_t) { OnWrite(gen, ec); });
    return;
  }
  asio::async_write(socket_, asio::buffer(slot_.bytes),
                    [this, gen](const error_code& ec, std::size_t) { OnWrite(gen, ec); });
}

void Engine::Connection::OnWrite(std::uint64_t gen, const error_code& ec) {
  if (gen != gen_) return;
  if (ec) return Fail();
  if (tls_) {
    http::async_read(
        *tls_, buffer_, *parser_,
        [this, gen, keep = tls_](const error_code& ec, std::size_t) { OnRead(gen, ec); });
    return;
  }
  http::async_read(socket_, buffer_, *parser_,
                   [this, gen](const error_code& ec, std::size_t) { OnRead(gen, ec); });
}

void Engine::Connection::OnRead(std::uint64_t gen, const error_code& ec) {
  if (gen != gen_) return;
  if (ec) return Fail();
  const auto now = SteadyClock::now();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - due_).count();
  worker_.latency.Record(micros < 0 ? 0 : static_cast<std::uint64_t>(micros));
  const int status = parser_->status();
  worker_.answered.Add();
  worker_.by_status[status >= 0 && status < 600 ? status : 0].Add();
  const bool keep_alive = parser_->keep_alive();
  worker_.workload().OnResponse(slot_, status, body_);
  worker_.OnRequestDone();
  if (state_ == State::kClosed) return;  // the worker shut down meanwhile
  if (!keep_alive) return Reopen();
  state_ = State::kIdle;
  idle_since_ = now;
  worker_.OnIdle(this);
}

void Engine::Connection::Fail() {
  (timed_out_ ? worker_.timeouts : worker_.io_errors).Add();
  worker_.workload().OnFailure(slot_, timed_out_ ? Failure::kTimeout : Failure::kIo);
  worker_.OnRequestDone();
  if (state_ == State::kClosed) return;
  Reopen();
}

void Engine::Connection::Reopen() {
  ++gen_;
  CloseSocket();
  buffer_.clear();
  Connect();
}

void Engine::Connection::Close() {
  if (state_ == State::kIdle) worker_.OnNotIdle(this);
  state_ = State::kClosed;
  ++gen_;
  CloseSocket();
  backoff_.cancel();
}

bool Engine::Connection::StaleAfterIdle(SteadyClock::time_point now) {
  if (now - idle_since_ < kStaleCheckAfter) return false;
  pollfd p{};
  p.fd = socket_.native_handle();
  // Over TLS the socket is readable without anything being wrong (TLS 1.3 session tickets the
  // server sent after the handshake wait there to be read with the next answer): only a closed
  // or failed connection counts.
  p.events = tls_ ? POLLRDHUP : (POLLIN | POLLRDHUP);
  return ::poll(&p, 1, 0) != 0;  // readable, closed, error (or a failed poll): do not reuse
}

void Engine::Connection::CheckTimeout(SteadyClock::time_point now,
                                      std::chrono::milliseconds timeout) {
  if (state_ != State::kBusy && state_ != State::kConnecting) return;
  if (timed_out_ || now - op_started_ < timeout) return;
  // Closing makes the pending operation complete with an error; its handler sees timed_out_.
  timed_out_ = true;
  error_code ignored;
  socket_.close(ignored);
}

// ---------------------------------------------------------------------------------------------

Engine::Engine(EngineOptions options, WorkloadFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {
  options_.threads = std::max(1u, options_.threads);
  options_.connections = std::max(options_.threads, options_.connections);
}

Engine::~Engine() {
  RequestStop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

core::Status Engine::Start() {
  if (options_.targets.empty()) return core::Fail(std::string("no target to send requests to"));
  asio::io_context resolver_ioc;
  tcp::resolver resolver(resolver_ioc);
  // The endpoints of each target, resolved once: a connection reconnects to the same list.
  auto endpoints = std::make_shared<std::vector<std::vector<tcp::endpoint>>>();
  for (const Target& target : options_.targets) {
    if (target.https && !target.tls) {
      return core::Fail(fmt::format("{}: https target without a TLS context", target.host_header));
    }
    error_code ec;
    const auto results = resolver.resolve(target.host, std::to_string(target.port), ec);
    if (ec || results.empty()) {
      return core::Fail(fmt::format("cannot resolve '{}': {}", target.host, ec.message()));
    }
    auto& list = endpoints->emplace_back();
    for (const auto& r : results) list.push_back(r.endpoint());
  }

  unsigned first_connection = 0;
  for (unsigned t = 0; t < options_.threads; ++t) {
    const unsigned share = options_.connections / options_.threads +
                           (t < options_.connections % options_.threads ? 1 : 0);
    workers_.push_back(std::make_unique<Worker>(*this, t, factory_(t), share, first_connection));
    first_connection += share;
  }
  for (unsigned t = 0; t < options_.threads; ++t) {
    threads_.emplace_back([this, t, endpoints] { workers_[t]->Run(*endpoints); });
  }
  // Every connection has tried once (failed ones keep retrying in the background).
  {
    core::MutexLock lock(mu_);
    cv_.WaitFor(lock, options_.timeout + std::chrono::seconds(1),
                [this]() REQUIRES(mu_) { return ready_ == options_.threads; });
  }
  bool any = false;
  for (auto& w : workers_) {
    any = any || w->connected_once.load();
  }
  if (!any) {
    RequestStop();
    for (auto& w : workers_) w->Begin(SteadyClock::now());
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::string names;
    for (const Target& target : options_.targets) {
      if (!names.empty()) names += ", ";
      names += fmt::format("{}:{}", target.host, target.port);
    }
    std::string why;
    for (auto& w : workers_) {
      if (!w->tls_error().empty()) {
        why = fmt::format(" (TLS handshake failed: {})", w->tls_error());
        break;
      }
    }
    return core::Fail(fmt::format("cannot connect to {}{}", names, why));
  }
  t0_ = SteadyClock::now();
  started_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->Begin(t0_);
  return {};
}

void Engine::OnWorkerReady() {
  core::MutexLock lock(mu_);
  ++ready_;
  cv_.NotifyAll();
}

void Engine::OnWorkerDone() {
  core::MutexLock lock(mu_);
  ++done_;
  cv_.NotifyAll();
}

bool Engine::WaitFor(std::chrono::milliseconds d) {
  core::MutexLock lock(mu_);
  if (!cv_.WaitFor(lock, d, [this]() REQUIRES(mu_) { return done_ == threads_.size(); })) {
    return false;
  }
  lock.Unlock();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  return true;
}

EngineTotals Engine::Totals() const {
  EngineTotals t;
  for (const auto& w : workers_) {
    t.sent += w->sent.Get();
    t.answered += w->answered.Get();
    t.timeouts += w->timeouts.Get();
    t.io_errors += w->io_errors.Get();
    t.connect_errors += w->connect_errors.Get();
    t.reconnects += w->reconnects.Get();
    t.unsent += w->unsent.Get();
    for (std::size_t i = 0; i < t.by_status.size(); ++i) t.by_status[i] += w->by_status[i].Get();
  }
  return t;
}

void Engine::MergeLatency(LatencyHistogram& into) const {
  for (const auto& w : workers_) into.MergeFrom(w->latency);
}

std::chrono::nanoseconds Engine::Elapsed() const {
  if (!started_.load(std::memory_order_acquire)) return std::chrono::nanoseconds(0);
  bool all_done;
  {
    core::MutexLock lock(mu_);
    all_done = done_ == workers_.size();
  }
  if (!all_done) return SteadyClock::now() - t0_;
  SteadyClock::time_point end = t0_;
  for (const auto& w : workers_) end = std::max(end, w->last_answer_);
  return end - t0_;
}

Workload& Engine::workload(unsigned thread) { return workers_.at(thread)->workload(); }

}  // namespace scrutin::loadgen

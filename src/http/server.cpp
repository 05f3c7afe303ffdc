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

#include "http/connection.hpp"
#include "http/json.hpp"
#include "http/server_internal.hpp"
#include "http/tls.hpp"

namespace scrutin::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

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
  auto c = std::make_shared<detail::Connection>(
      w, std::move(socket), peer.address(), counted,
      options_.tls != nullptr ? options_.tls->Current() : nullptr);
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

std::uint64_t Server::tls_handshakes_failed() const {
  return shared_->tls_failed.load(std::memory_order_relaxed);
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

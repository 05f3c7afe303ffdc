#include "http/connection.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <strings.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <ctime>
#include <exception>

#include "http/json.hpp"
#include "http/tls.hpp"

namespace scrutin::http::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

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

thread_local Connection* Connection::tls_in_handler_ = nullptr;

void Connection::Start() {
  Link();
  beast::error_code ec;
  Lowest().set_option(tcp::no_delay(true), ec);
  if (shared_.options.trusted_proxies.Contains(peer_)) {
    trusted_peer_ = true;
    state_ = State::kProxyHeader;
    deadline_ = SteadyClock::now() + shared_.options.request_timeout;
    return ReadProxyHeader();
  }
  StartTls();
}

void Connection::StartTls() {
  if (!tls_) return ReadRequest();
  if (shared_.options.clients != nullptr && (!trusted_peer_ || client_from_proxy_header_)) {
    auto d = shared_.options.clients->Admit(ClientKey::From(client_), ClientTable::Bucket::kRead);
    if (!d.allowed) {
      shared_.rate_limited.fetch_add(1, std::memory_order_relaxed);
      return Close();
    }
  }
  state_ = State::kHandshake;
  deadline_ = SteadyClock::now() + shared_.options.request_timeout;
  tls_->async_handshake(boost::asio::ssl::stream_base::server, buffer_.data(),
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (self->state_ == State::kClosed) return;
                          self->buffer_.Clear();
                          if (ec) return self->OnHandshakeFailed(ec);
                          self->ReadRequest();
                        });
}

void Connection::OnHandshakeFailed(const beast::error_code& ec) {
  shared_.tls_failed.fetch_add(1, std::memory_order_relaxed);
  ChargeMalformed();
  const bool plain_http =
      ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
  if (!plain_http) return Close();
  static const std::string kPlainRefusal = [] {
    std::string body =
        ErrorBody("https_required", "This port speaks HTTPS only: use an https:// address.");
    return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }();
  state_ = State::kWriting;
  deadline_ = SteadyClock::now() + shared_.options.write_timeout;
  net::async_write(Lowest(), net::buffer(kPlainRefusal),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     if (ec || self->state_ == State::kClosed) return self->Close();
                     self->LingeringClose();
                   });
}

void Connection::Deliver(Response r) {
  if (tls_in_handler_ == this) {
    response_ = std::move(r);
    has_response_ = true;
    return;
  }
  bool post = false;
  {
    core::MutexLock lock(worker_->inbox_mu);
    worker_->inbox.emplace_back(shared_from_this(), std::move(r));
    post = !std::exchange(worker_->drain_posted, true);
  }
  if (post) net::post(worker_->ioc, [w = worker_] { DrainInbox(*w); });
}

void Connection::DrainInbox(Server::Worker& w) {
  {
    core::MutexLock lock(w.inbox_mu);
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

void Connection::OnServerStopping() {
  close_after_ = true;
  if (state_ == State::kIdle || state_ == State::kPaused) Expire();
}

void Connection::Expire() {
  if (state_ == State::kClosed) return;
  if (state_ == State::kHandling || state_ == State::kPaused) {
    auto keep = std::move(paused_self_);  // released once Close has returned
    Close();  // no operation pending; a late response finds the connection closed
    return;
  }
  beast::error_code ec;
  Lowest().close(ec);
}

void Connection::Sweep(SteadyClock::time_point now, bool pressure) {
  if (state_ == State::kHandling || state_ == State::kClosed || !Lowest().is_open()) return;
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

void Connection::Link() {
  next = worker_->head;
  if (next) next->prev = this;
  worker_->head = this;
}

void Connection::Unlink() {
  if (prev) prev->next = next;
  if (next) next->prev = prev;
  if (worker_->head == this) worker_->head = next;
  prev = next = nullptr;
}

void Connection::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  Unlink();
  beast::error_code ec;
  Lowest().close(ec);
  buffer_.Clear();
  if (counted_) shared_.options.clients->CloseConnection(ClientKey::From(peer_));
  shared_.connections.fetch_sub(1, std::memory_order_relaxed);
}

void Connection::ReadProxyHeader() {
  std::string_view bytes(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  ProxyHeader header = ParseProxyHeader(bytes);
  switch (header.status) {
    case ProxyHeader::Status::kNeedMore:
      if (bytes.size() >= ProxyHeader::kMaxBytes) return Close();
      Lowest().async_read_some(buffer_.prepare(buffer_.capacity() - buffer_.size()),
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
  StartTls();
}

void Connection::ReadRequest() {
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

void Connection::DoRead() {
  if (buffer_.size() > 0) {
    std::string_view available(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    RequestReader::Step step = reader_.Feed(available, buffer_.size() == buffer_.capacity());
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
  WithStream([this](auto& stream) {
    stream.async_read_some(
        buffer_.prepare(buffer_.capacity() - buffer_.size()),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->OnRead(ec, n); });
  });
}

void Connection::OnRead(beast::error_code ec, std::size_t n) {
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

void Connection::SendContinue() {
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  WithStream([this](auto& stream) {
    net::async_write(stream, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->Close();
                       if (self->state_ != State::kClosed) self->DoRead();
                     });
  });
}

ClientKey Connection::RequestClient() const {
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

ClientTable::Bucket Connection::BucketOf(bhttp::verb method) {
  return method == bhttp::verb::get || method == bhttp::verb::head || method == bhttp::verb::options
             ? ClientTable::Bucket::kRead
             : ClientTable::Bucket::kWrite;
}

void Connection::ChargeMalformed() {
  if (shared_.options.clients == nullptr) return;
  const ClientKey key = ClientKey::From(client_);
  shared_.options.clients->Charge(key, ClientTable::Bucket::kWrite, Server::kMalformedCost);
  shared_.options.clients->Charge(key, ClientTable::Bucket::kRead, Server::kMalformedCost);
}

void Connection::OnRequest() {
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

void Connection::RefuseRateLimited(std::chrono::nanoseconds retry_after) {
  shared_.rate_limited.fetch_add(1, std::memory_order_relaxed);
  if (!request_.body().empty()) explicit_bzero(request_.body().data(), request_.body().size());
  const auto seconds =
      std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(retry_after).count());
  Response r;
  r.status = 429;
  JsonObject(r.body)
      .Str("error", "rate_limited")
      .Str("scope", "client")
      .Str("message", "Too many requests from your network address; please retry in a moment.")
      .Close();
  r.AddHeader("Retry-After", std::to_string(seconds));
  r.AddHeader("Cache-Control", "no-store");
  pause_for_ = std::min<SteadyClock::duration>(retry_after, kMaxPause);
  response_ = std::move(r);
  has_response_ = true;
  WriteResponse();
}

void Connection::SendServerError(unsigned status, std::string_view code, std::string_view message) {
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

void Connection::WriteResponse() {
  if (state_ == State::kClosed || !has_response_) return;
  has_response_ = false;
  // A handler's refusal of a malformed request costs its sender more (ServerOptions).
  if (shared_.options.clients != nullptr && state_ == State::kHandling) {
    const unsigned st = response_.status;
    if (st == 400 || st == 413 || st == 415 || st == 431) {
      shared_.options.clients->Charge(request_client_, request_bucket_, Server::kMalformedCost - 1);
    }
  }
  close_after_write_ =
      !keep_alive_ || close_after_ || shared_.stopping.load(std::memory_order_relaxed);
  SerializeHead();
  state_ = State::kWriting;
  deadline_ = SteadyClock::now() + shared_.options.write_timeout;
  std::array<net::const_buffer, 2> buffers{
      net::buffer(head_), head_request_ ? net::const_buffer() : net::buffer(response_.body)};
  WithStream([&](auto& stream) {
    net::async_write(
        stream, buffers,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnWrite(ec); });
  });
}

void Connection::SerializeHead() {
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
  if (tls_) {
    head_.append("\r\nStrict-Transport-Security: ");
    head_.append(kHstsValue);
  }
  head_.append("\r\n");
  head_.append(response_.headers);
  head_.append("\r\n");
}

void Connection::OnWrite(beast::error_code ec) {
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

void Connection::LingeringClose() {
  // Over TLS too the TCP half-close alone: a close_notify would wait for the client's, and the
  // response's Content-Length already tells the client it has everything.
  beast::error_code ec;
  Lowest().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  state_ = State::kLingering;
  deadline_ = SteadyClock::now() + std::chrono::seconds(2);
  buffer_.Clear();
  Drain();
}

void Connection::Drain() {
  Lowest().async_read_some(buffer_.prepare(buffer_.capacity()),
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (ec || self->state_ == State::kClosed) return self->Close();
                             self->buffer_.Clear();
                             self->Drain();
                           });
}

}  // namespace scrutin::http::detail

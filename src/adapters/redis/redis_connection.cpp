#include "adapters/redis/redis_connection.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "core/timeval.hpp"

namespace scrutin::redis {
namespace {

using core::Fail;

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

}  // namespace

Command Command::Keyless(std::initializer_list<std::string_view> args) {
  Command c;
  for (auto a : args) c.args.emplace_back(a);
  return c;
}

Command Command::Keyed(int key_arg, std::initializer_list<std::string_view> args) {
  Command c = Keyless(args);
  c.key_arg = key_arg;
  return c;
}

// Plain connections use hiredis's own context (socket, buffers, parser). TLS connections
// (rediss://) cannot: hiredis 0.14 has no TLS. They use a socket and an OpenSSL session of ours,
// with hiredis only formatting commands (redisFormatCommandArgv) and parsing replies (its
// redisReader), so both kinds parse the same RESP the same way.
struct RedisConnection::Context {
  redisContext* c = nullptr;  // plain
  // TLS:
  int fd = -1;
  SSL_CTX* ssl_ctx = nullptr;
  SSL* ssl = nullptr;
  redisReader* reader = nullptr;
  std::string out;  // formatted commands not yet written

  ~Context() {
    if (c != nullptr) redisFree(c);
    if (ssl != nullptr) SSL_free(ssl);
    if (ssl_ctx != nullptr) SSL_CTX_free(ssl_ctx);
    if (reader != nullptr) redisReaderFree(reader);
    if (fd >= 0) ::close(fd);
  }
};

namespace {

std::string SslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return errno != 0 ? std::string(std::strerror(errno)) : "connection closed";
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(e);
}

// A TCP connection to host:port within `timeout`, then blocking with every read and write bounded
// by `io_timeout` (as hiredis's redisSetTimeout does). -1 and `why` on failure.
int ConnectTcp(const Endpoint& ep, std::chrono::milliseconds timeout,
               std::chrono::milliseconds io_timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(ep.port);
  if (int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &list); rc != 0) {
    why = std::string("cannot resolve: ") + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = list; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        rc = 0;
      } else {
        why = rc == 0 ? "connect timed out" : std::strerror(err != 0 ? err : errno);
        rc = -1;
      }
    } else if (rc != 0) {
      why = std::strerror(errno);
    }
    if (rc != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(list);
  if (fd < 0) return -1;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const timeval tv = core::ToTimeval(io_timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  return fd;
}

// TLS 1.2+ over ctx.fd, the node verified against `ca_file` (or the system's trust store) and
// against the host it was reached by: its DNS name, or its IP address when the host is one.
core::Status StartTls(RedisConnection::Context& ctx, const Endpoint& ep,
                      const std::string& ca_file) {
  ERR_clear_error();
  ctx.ssl_ctx = SSL_CTX_new(TLS_client_method());
  if (ctx.ssl_ctx == nullptr) return Fail("cannot create a TLS context: " + SslError());
  SSL_CTX_set_min_proto_version(ctx.ssl_ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.ssl_ctx, SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx.ssl_ctx)
                         : SSL_CTX_load_verify_locations(ctx.ssl_ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return Fail("cannot read the CA file " + (ca_file.empty() ? "(system)" : ca_file) + ": " +
                SslError());
  }
  ctx.ssl = SSL_new(ctx.ssl_ctx);
  if (ctx.ssl == nullptr) return Fail("cannot create a TLS session: " + SslError());
  SSL_set_fd(ctx.ssl, ctx.fd);
  in6_addr ip6;
  in_addr ip4;
  const bool is_ip = ::inet_pton(AF_INET, ep.host.c_str(), &ip4) == 1 ||
                     ::inet_pton(AF_INET6, ep.host.c_str(), &ip6) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ctx.ssl), ep.host.c_str());
  } else {
    SSL_set1_host(ctx.ssl, ep.host.c_str());
    SSL_set_tlsext_host_name(ctx.ssl, ep.host.c_str());
  }
  if (SSL_connect(ctx.ssl) != 1) {
    const long verify = SSL_get_verify_result(ctx.ssl);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return Fail(std::string("TLS: the node's certificate was refused: ") +
                  X509_verify_cert_error_string(verify));
    }
    return Fail("TLS handshake failed: " + SslError());
  }
  ctx.reader = redisReaderCreate();
  if (ctx.reader == nullptr) return Fail(std::string("out of memory"));
  return {};
}

}  // namespace

core::Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const Endpoint& endpoint, const ClientOptions& options, const RedisTarget& target) {
  std::unique_ptr<RedisConnection> conn(new RedisConnection());
  conn->endpoint_ = endpoint;
  conn->ctx_ = new Context;
  const std::string where = "redis " + endpoint.ToString();
  if (target.tls) {
    std::string why;
    conn->ctx_->fd = ConnectTcp(endpoint, options.connect_timeout, options.command_timeout, why);
    if (conn->ctx_->fd < 0) return Fail(where + ": cannot connect: " + why);
    if (auto st = StartTls(*conn->ctx_, endpoint, target.ca_file); !st) {
      return Fail(where + ": " + st.error());
    }
  } else {
    redisContext* c = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port,
                                              core::ToTimeval(options.connect_timeout));
    conn->ctx_->c = c;
    if (c == nullptr) return Fail(where + ": out of memory connecting");
    if (c->err != 0) return Fail(where + ": cannot connect: " + std::string(c->errstr));
    if (redisSetTimeout(c, core::ToTimeval(options.command_timeout)) != REDIS_OK) {
      return Fail(where + ": cannot set the socket timeout");
    }
    redisEnableKeepAlive(c);
  }
  if (!target.password.empty()) {
    auto r = target.user.empty()
                 ? conn->Run(Command::Keyless({"AUTH", target.password}))
                 : conn->Run(Command::Keyless({"AUTH", target.user, target.password}));
    if (!r.ok()) return Fail(r.error());
    if (r->is_error()) return Fail(where + ": AUTH refused: " + r->str);
  }
  if (target.db != 0) {
    auto r = conn->Run(Command::Keyless({"SELECT", std::to_string(target.db)}));
    if (!r.ok()) return Fail(r.error());
    if (r->is_error()) return Fail(where + ": SELECT failed: " + r->str);
  }
  return conn;
}

RedisConnection::~RedisConnection() { delete ctx_; }

void RedisConnection::Append(const Command& command) {
  // Small pipelines are the common case: keep the pointer arrays on the stack when they fit.
  constexpr std::size_t kInline = 16;
  const char* argv_inline[kInline];
  std::size_t len_inline[kInline];
  std::vector<const char*> argv_heap;
  std::vector<std::size_t> len_heap;
  const char** argv = argv_inline;
  std::size_t* lens = len_inline;
  const std::size_t n = command.args.size();
  if (n > kInline) {
    argv_heap.resize(n);
    len_heap.resize(n);
    argv = argv_heap.data();
    lens = len_heap.data();
  }
  for (std::size_t i = 0; i < n; ++i) {
    argv[i] = command.args[i].data();
    lens[i] = command.args[i].size();
  }
  if (ctx_->c != nullptr) {
    if (redisAppendCommandArgv(ctx_->c, static_cast<int>(n), argv, lens) != REDIS_OK) {
      broken_ = true;
    }
    return;
  }
  char* formatted = nullptr;
  const int len = redisFormatCommandArgv(&formatted, static_cast<int>(n), argv, lens);
  if (len < 0 || formatted == nullptr) {
    broken_ = true;
    return;
  }
  ctx_->out.append(formatted, static_cast<std::size_t>(len));
  redisFreeCommand(formatted);
}

core::Result<Reply> RedisConnection::Read() {
  if (broken_) return Fail("redis " + endpoint_.ToString() + ": connection is broken");
  void* raw = nullptr;
  if (ctx_->c != nullptr) {
    if (redisGetReply(ctx_->c, &raw) != REDIS_OK || raw == nullptr) {
      broken_ = true;
      std::string why = ctx_->c->err != 0 ? std::string(ctx_->c->errstr) : "no reply";
      if (ctx_->c->err == REDIS_ERR_IO &&
          (why.find("temporarily unavailable") != std::string::npos ||
           why.find("timed out") != std::string::npos)) {
        why = "no answer within the command timeout";
      }
      return Fail("redis " + endpoint_.ToString() + ": " + why);
    }
  } else {
    if (auto st = Flush(); !st) return Fail(st.error());
    char buf[16 * 1024];
    for (;;) {
      if (redisReaderGetReply(ctx_->reader, &raw) != REDIS_OK) {
        broken_ = true;
        return Fail("redis " + endpoint_.ToString() + ": protocol error: " + ctx_->reader->errstr);
      }
      if (raw != nullptr) break;
      errno = 0;
      const int n = SSL_read(ctx_->ssl, buf, sizeof buf);
      if (n <= 0) {
        broken_ = true;
        const bool timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
        return Fail("redis " + endpoint_.ToString() + ": " +
                    (timed_out ? std::string("no answer within the command timeout")
                               : "read failed: " + SslError()));
      }
      if (redisReaderFeed(ctx_->reader, buf, static_cast<std::size_t>(n)) != REDIS_OK) {
        broken_ = true;
        return Fail("redis " + endpoint_.ToString() + ": protocol error: " + ctx_->reader->errstr);
      }
    }
  }
  Reply reply = Convert(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

core::Status RedisConnection::Flush() {
  if (broken_) return Fail("redis " + endpoint_.ToString() + ": connection is broken");
  if (ctx_->c == nullptr) {
    std::size_t done = 0;
    while (done < ctx_->out.size()) {
      errno = 0;
      const int n =
          SSL_write(ctx_->ssl, ctx_->out.data() + done,
                    static_cast<int>(std::min<std::size_t>(ctx_->out.size() - done, 1 << 30)));
      if (n <= 0) {
        broken_ = true;
        return Fail("redis " + endpoint_.ToString() + ": write failed: " + SslError());
      }
      done += static_cast<std::size_t>(n);
    }
    ctx_->out.clear();
    return {};
  }
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx_->c, &done) != REDIS_OK) {
      broken_ = true;
      return Fail("redis " + endpoint_.ToString() + ": write failed: " +
                  (ctx_->c->err != 0 ? std::string(ctx_->c->errstr) : std::string("unknown")));
    }
  }
  return {};
}

core::Result<Reply> RedisConnection::Run(const Command& command) {
  Append(command);
  return Read();
}

}  // namespace scrutin::redis

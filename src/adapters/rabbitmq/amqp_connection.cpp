#include "adapters/rabbitmq/amqp_connection.hpp"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <sys/socket.h>

#include <charconv>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/mutex.hpp"
#include "core/timeval.hpp"

namespace scrutin::rabbitmq {
namespace {

amqp_bytes_t Bytes(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string ToString(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of one URL component; nullopt on a broken escape.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Shuts down the sockets of writes that outlive their deadline, so that a write rabbitmq-c would
// wait on forever fails instead. One thread for the process, started on first use and never
// stopped (leaked on purpose: no destruction-order hazard at exit).
class WriteWatchdog {
 public:
  static WriteWatchdog& Instance() {
    static WriteWatchdog* instance = new WriteWatchdog();
    return *instance;
  }

  void Arm(const void* owner, int fd, std::chrono::steady_clock::time_point deadline) {
    core::MutexLock lock(mu_);
    if (!started_) {
      started_ = true;
      std::thread([this] { Loop(); }).detach();
    }
    const bool was_idle = armed_.empty();
    armed_[owner] = Entry{fd, deadline};
    if (was_idle) cv_.NotifyOne();  // otherwise the loop is polling already
  }

  // True when the watchdog shut the socket down while armed.
  bool Disarm(const void* owner) {
    core::MutexLock lock(mu_);
    armed_.erase(owner);
    return fired_.erase(owner) > 0;
  }

 private:
  struct Entry {
    int fd;
    std::chrono::steady_clock::time_point deadline;
  };

  void Loop() {
    core::MutexLock lock(mu_);
    for (;;) {
      if (armed_.empty()) {
        cv_.Wait(lock);
        continue;
      }
      cv_.WaitFor(lock, std::chrono::milliseconds(50));
      auto now = std::chrono::steady_clock::now();
      for (auto it = armed_.begin(); it != armed_.end();) {
        if (it->second.deadline <= now) {
          // The owner is blocked in the library and cannot close the fd while we hold mu_
          // (Disarm runs before the connection is destroyed), so the fd is still its socket.
          ::shutdown(it->second.fd, SHUT_RDWR);
          fired_[it->first] = true;
          it = armed_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  core::Mutex mu_;
  core::CondVar cv_;
  bool started_ GUARDED_BY(mu_) = false;
  std::unordered_map<const void*, Entry> armed_ GUARDED_BY(mu_);
  std::unordered_map<const void*, bool> fired_ GUARDED_BY(mu_);
};

// TLS 1.2+ with the broker's certificate and name verified (see AmqpEndpoint).
core::Status ConfigureTls(amqp_socket_t* socket, const AmqpEndpoint& ep) {
  static constexpr const char* kSystemTrustStore = "/etc/ssl/certs/ca-certificates.crt";
  amqp_ssl_socket_set_verify_peer(socket, 1);
  amqp_ssl_socket_set_verify_hostname(socket, 1);
  if (int rc = amqp_ssl_socket_set_ssl_versions(socket, AMQP_TLSv1_2, AMQP_TLSvLATEST);
      rc != AMQP_STATUS_OK) {
    return core::Fail(std::string("cannot require TLS 1.2 or later: ") + amqp_error_string2(rc));
  }
  const std::string ca = ep.ca_file.empty() ? kSystemTrustStore : ep.ca_file;
  if (int rc = amqp_ssl_socket_set_cacert(socket, ca.c_str()); rc != AMQP_STATUS_OK) {
    return core::Fail("cannot read the CA file " + ca + ": " + amqp_error_string2(rc));
  }
  if (!ep.cert_file.empty()) {
    if (int rc = amqp_ssl_socket_set_key(socket, ep.cert_file.c_str(), ep.key_file.c_str());
        rc != AMQP_STATUS_OK) {
      return core::Fail("cannot use the client certificate " + ep.cert_file + " / key " +
                        ep.key_file + ": " + amqp_error_string2(rc));
    }
  }
  return {};
}

std::string ServerReason(std::uint16_t code, amqp_bytes_t text) {
  return std::to_string(code) + " " + ToString(text);
}

}  // namespace

std::string AmqpEndpoint::ToString() const {
  return host + ":" + std::to_string(port) + (vhost.starts_with("/") ? "" : "/") + vhost +
         (tls ? " (TLS)" : "");
}

namespace {

// The query of an amqps:// URL (see AmqpEndpoint).
core::Status ParseTlsQuery(std::string_view query, AmqpEndpoint& ep) {
  while (!query.empty()) {
    std::string_view item = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), item.size() + 1));
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return core::Fail("AMQP URL: query parameter '" + std::string(item) + "' has no value");
    }
    const std::string_view key = item.substr(0, eq);
    auto value = PercentDecode(item.substr(eq + 1));
    if (!value || value->empty()) {
      return core::Fail("AMQP URL: bad value for " + std::string(key));
    }
    if (key == "cacertfile") {
      ep.ca_file = *value;
    } else if (key == "certfile") {
      ep.cert_file = *value;
    } else if (key == "keyfile") {
      ep.key_file = *value;
    } else if (key == "verify") {
      if (*value != "verify_peer") {
        return core::Fail("AMQP URL: verify=" + *value +
                          " is refused: the broker's certificate is always verified");
      }
    } else {
      return core::Fail("AMQP URL: unknown query parameter '" + std::string(key) +
                        "' (known: cacertfile, certfile, keyfile, verify)");
    }
  }
  if (ep.cert_file.empty() != ep.key_file.empty()) {
    return core::Fail(std::string("AMQP URL: certfile and keyfile go together"));
  }
  return {};
}

}  // namespace

core::Result<AmqpEndpoint> ParseAmqpUrl(std::string_view url) {
  AmqpEndpoint ep;
  std::string_view rest;
  if (url.starts_with("amqps://")) {
    ep.tls = true;
    ep.port = 5671;
    rest = url.substr(8);
  } else if (url.starts_with("amqp://")) {
    rest = url.substr(7);
  } else {
    return core::Fail("AMQP URL must start with amqp:// or amqps:// (got '" +
                      std::string(url.substr(0, 16)) + "...')");
  }
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    if (!ep.tls) {
      return core::Fail(
          std::string("AMQP URL: query parameters (TLS settings) need amqps://; amqp:// has none"));
    }
    if (auto st = ParseTlsQuery(rest.substr(q + 1), ep); !st) return core::Fail(st.error());
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  std::optional<std::string_view> path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::string_view user = userinfo;
    std::optional<std::string_view> password;
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      password = userinfo.substr(colon + 1);
    }
    auto u = PercentDecode(user);
    if (!u || u->empty()) return core::Fail(std::string("AMQP URL: bad user name"));
    ep.user = *u;
    if (password) {
      auto p = PercentDecode(*password);
      if (!p) return core::Fail(std::string("AMQP URL: bad password encoding"));
      ep.password = *p;
    }
  }
  std::string_view host = authority;
  if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    std::string_view port = authority.substr(colon + 1);
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return core::Fail("AMQP URL: bad port '" + std::string(port) + "'");
    }
    ep.port = value;
  }
  if (host.empty()) return core::Fail(std::string("AMQP URL: missing host"));
  ep.host = std::string(host);
  if (path && !path->empty()) {
    auto v = PercentDecode(*path);
    if (!v) return core::Fail(std::string("AMQP URL: bad vhost encoding"));
    ep.vhost = *v;
  }
  return ep;
}

core::Result<std::unique_ptr<AmqpConnection>> AmqpConnection::Open(
    const AmqpEndpoint& endpoint, const ConnectionOptions& options) {
  std::unique_ptr<AmqpConnection> conn(new AmqpConnection());
  conn->endpoint_ = endpoint;
  conn->options_ = options;
  conn->state_ = amqp_new_connection();
  if (conn->state_ == nullptr) return core::Fail(std::string("AMQP: out of memory"));
  const std::string where = "RabbitMQ at " + endpoint.ToString();
  amqp_socket_t* socket =
      endpoint.tls ? amqp_ssl_socket_new(conn->state_) : amqp_tcp_socket_new(conn->state_);
  if (socket == nullptr) return core::Fail(where + ": cannot create a socket");
  if (endpoint.tls) {
    if (auto st = ConfigureTls(socket, endpoint); !st) return core::Fail(where + ": " + st.error());
  }
  timeval connect_tv = core::ToTimeval(options.connect_timeout);
  int rc = amqp_socket_open_noblock(socket, endpoint.host.c_str(), endpoint.port, &connect_tv);
  if (rc != AMQP_STATUS_OK) {
    conn->broken_ = true;
    return core::Fail(where + ": cannot connect: " + amqp_error_string2(rc));
  }
  amqp_set_handshake_timeout(conn->state_, &connect_tv);
  timeval rpc_tv = core::ToTimeval(options.io_timeout);
  amqp_set_rpc_timeout(conn->state_, &rpc_tv);

  amqp_table_entry_t property;
  property.key = amqp_cstring_bytes("connection_name");
  property.value.kind = AMQP_FIELD_KIND_UTF8;
  property.value.value.bytes = Bytes(options.connection_name);
  amqp_table_t properties{1, &property};
  amqp_rpc_reply_t reply = amqp_login_with_properties(
      conn->state_, endpoint.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE,
      static_cast<int>(options.heartbeat.count()), &properties, AMQP_SASL_METHOD_PLAIN,
      endpoint.user.c_str(), endpoint.password.c_str());
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    conn->broken_ = true;
    std::string why;
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      why = amqp_error_string2(reply.library_error);
      if (reply.library_error == AMQP_STATUS_CONNECTION_CLOSED ||
          reply.library_error == AMQP_STATUS_SOCKET_ERROR) {
        why += " (wrong user/password or vhost '" + endpoint.vhost + "'?)";
      }
    } else if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
               reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
      why = ServerReason(m->reply_code, m->reply_text);
    } else {
      why = "unexpected reply";
    }
    return core::Fail(where + ": login failed: " + why);
  }
  amqp_channel_open(conn->state_, kChannel);
  reply = amqp_get_rpc_reply(conn->state_);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    conn->broken_ = true;
    return core::Fail(where + ": cannot open a channel");
  }
  return conn;
}

AmqpConnection::~AmqpConnection() {
  if (state_ == nullptr) return;
  if (!broken_) {
    WriteGuard guard(*this);
    amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_);
}

AmqpConnection::WriteGuard::WriteGuard(AmqpConnection& conn) : conn_(conn) {
  if (conn_.guard_depth_++ > 0) return;  // an enclosing guard bounds this write already
  int fd = amqp_get_sockfd(conn_.state_);
  if (fd >= 0) {
    WriteWatchdog::Instance().Arm(&conn_, fd,
                                  std::chrono::steady_clock::now() + conn_.options_.io_timeout);
  }
}

AmqpConnection::WriteGuard::~WriteGuard() {
  if (--conn_.guard_depth_ > 0) return;
  if (WriteWatchdog::Instance().Disarm(&conn_)) {
    conn_.broken_ = true;
    conn_.last_error_ = "write to RabbitMQ timed out (broker not reading)";
  }
}

core::Status AmqpConnection::Break(std::string why) {
  broken_ = true;
  last_error_ = std::move(why);
  return core::Fail(last_error_);
}

core::Status AmqpConnection::LibraryFailure(int status, std::string_view what) {
  if (broken_ && !last_error_.empty()) return core::Fail(last_error_);
  return Break(std::string(what) + ": " + amqp_error_string2(status));
}

core::Status AmqpConnection::ReopenChannel() {
  amqp_channel_open(state_, kChannel);
  if (amqp_get_rpc_reply(state_).reply_type != AMQP_RESPONSE_NORMAL) {
    return Break("cannot reopen the AMQP channel");
  }
  sequence_ = 0;
  if (confirms_) {
    amqp_confirm_select(state_, kChannel);
    if (amqp_get_rpc_reply(state_).reply_type != AMQP_RESPONSE_NORMAL) {
      return Break("cannot re-enable publisher confirms");
    }
  }
  return {};
}

core::Status AmqpConnection::CheckReply(const amqp_rpc_reply_t& reply, std::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return {};
    case AMQP_RESPONSE_NONE:
      return Break(std::string(what) + ": no reply from RabbitMQ");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return LibraryFailure(reply.library_error, what);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      break;
  }
  if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
    std::string reason = std::string(what) + ": " + ServerReason(m->reply_code, m->reply_text);
    amqp_channel_close_ok_t ok{};
    if (amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK) {
      return Break(reason);
    }
    auto reopened = ReopenChannel();
    if (!reopened.ok()) return Break(reason + "; then " + reopened.error());
    return core::Fail(reason);
  }
  if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
    amqp_connection_close_ok_t ok{};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    return Break(std::string(what) +
                 ": RabbitMQ closed the connection: " + ServerReason(m->reply_code, m->reply_text));
  }
  return Break(std::string(what) + ": unexpected method from RabbitMQ");
}

core::Status AmqpConnection::HandleCloseFrame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return {};
  amqp_rpc_reply_t reply{};
  reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
  reply.reply = frame.payload.method;
  if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
      frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    return CheckReply(reply, "RabbitMQ");
  }
  return {};
}

core::Status AmqpConnection::EnableConfirms() {
  if (broken_) return core::Fail(last_error_);
  amqp_confirm_select(state_, kChannel);
  auto st = CheckReply(amqp_get_rpc_reply(state_), "confirm.select");
  if (!st.ok()) return st;
  confirms_ = true;
  sequence_ = 0;
  return {};
}

core::Status AmqpConnection::DeclareExchange(const std::string& name, const std::string& type) {
  if (broken_) return core::Fail(last_error_);
  amqp_exchange_declare(state_, kChannel, Bytes(name), Bytes(type), /*passive=*/0, /*durable=*/1,
                        /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  return CheckReply(amqp_get_rpc_reply(state_), "declare exchange " + name);
}

core::Status AmqpConnection::DeclareQueue(const std::string& name,
                                          std::span<const QueueArgument> arguments) {
  if (broken_) return core::Fail(last_error_);
  std::vector<amqp_table_entry_t> entries(arguments.size());
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    entries[i].key = Bytes(arguments[i].key);
    if (arguments[i].is_integer) {
      entries[i].value.kind = AMQP_FIELD_KIND_I64;
      entries[i].value.value.i64 = arguments[i].integer;
    } else {
      entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[i].value.value.bytes = Bytes(arguments[i].text);
    }
  }
  const amqp_table_t args{static_cast<int>(entries.size()), entries.data()};
  amqp_queue_declare(state_, kChannel, Bytes(name), /*passive=*/0, /*durable=*/1,
                     /*exclusive=*/0, /*auto_delete=*/0, args);
  return CheckReply(amqp_get_rpc_reply(state_), "declare queue " + name);
}

core::Status AmqpConnection::BindQueue(const std::string& queue, const std::string& exchange,
                                       const std::string& routing_key) {
  if (broken_) return core::Fail(last_error_);
  amqp_queue_bind(state_, kChannel, Bytes(queue), Bytes(exchange), Bytes(routing_key),
                  amqp_empty_table);
  return CheckReply(amqp_get_rpc_reply(state_), "bind " + queue + " to " + exchange);
}

core::Result<QueueInfo> AmqpConnection::InspectQueue(const std::string& name) {
  if (broken_) return core::Fail(last_error_);
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(state_, kChannel, Bytes(name), /*passive=*/1, 0, 0, 0, amqp_empty_table);
  auto st = CheckReply(amqp_get_rpc_reply(state_), "inspect queue " + name);
  if (!st.ok()) return core::Fail(st.error());
  if (ok == nullptr) return core::Fail("inspect queue " + name + ": empty reply");
  return QueueInfo{name, ok->message_count, ok->consumer_count};
}

core::Status AmqpConnection::PurgeQueue(const std::string& name) {
  if (broken_) return core::Fail(last_error_);
  amqp_queue_purge(state_, kChannel, Bytes(name));
  return CheckReply(amqp_get_rpc_reply(state_), "purge queue " + name);
}

core::Status AmqpConnection::DeleteQueue(const std::string& name) {
  if (broken_) return core::Fail(last_error_);
  amqp_queue_delete(state_, kChannel, Bytes(name), /*if_unused=*/0, /*if_empty=*/0);
  return CheckReply(amqp_get_rpc_reply(state_), "delete queue " + name);
}

core::Status AmqpConnection::Publish(const OutgoingMessage& message, bool mandatory) {
  if (broken_) return core::Fail(last_error_);
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = 2;  // persistent
  if (!message.message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = Bytes(message.message_id);
  }
  if (!message.type.empty()) {
    props._flags |= AMQP_BASIC_TYPE_FLAG;
    props.type = Bytes(message.type);
  }
  props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
  props.content_type = amqp_cstring_bytes("application/octet-stream");
  std::vector<amqp_table_entry_t> entries(message.headers.size());
  if (!entries.empty()) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      entries[i].key = Bytes(message.headers[i].first);
      entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[i].value.value.bytes = Bytes(message.headers[i].second);
    }
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = amqp_table_t{static_cast<int>(entries.size()), entries.data()};
  }
  int rc;
  {
    WriteGuard guard(*this);
    rc = amqp_basic_publish(state_, kChannel, Bytes(message.exchange), Bytes(message.routing_key),
                            mandatory ? 1 : 0, /*immediate=*/0, &props, Bytes(message.body));
  }
  if (rc != AMQP_STATUS_OK) return LibraryFailure(rc, "publish");
  if (broken_) return core::Fail(last_error_);
  if (confirms_) ++sequence_;
  return {};
}

core::Status AmqpConnection::Qos(std::uint16_t prefetch_count) {
  if (broken_) return core::Fail(last_error_);
  amqp_basic_qos(state_, kChannel, 0, prefetch_count, 0);
  return CheckReply(amqp_get_rpc_reply(state_), "basic.qos");
}

core::Status AmqpConnection::Consume(const std::string& queue) {
  if (broken_) return core::Fail(last_error_);
  amqp_basic_consume(state_, kChannel, Bytes(queue), amqp_empty_bytes, /*no_local=*/0,
                     /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
  return CheckReply(amqp_get_rpc_reply(state_), "consume " + queue);
}

core::Status AmqpConnection::Ack(std::uint64_t delivery_tag, bool multiple) {
  if (broken_) return core::Fail(last_error_);
  int rc;
  {
    WriteGuard guard(*this);
    rc = amqp_basic_ack(state_, kChannel, delivery_tag, multiple ? 1 : 0);
  }
  if (rc != AMQP_STATUS_OK) return LibraryFailure(rc, "basic.ack");
  if (broken_) return core::Fail(last_error_);
  return {};
}

core::Status AmqpConnection::Nack(std::uint64_t delivery_tag, bool multiple, bool requeue) {
  if (broken_) return core::Fail(last_error_);
  int rc;
  {
    WriteGuard guard(*this);
    rc = amqp_basic_nack(state_, kChannel, delivery_tag, multiple ? 1 : 0, requeue ? 1 : 0);
  }
  if (rc != AMQP_STATUS_OK) return LibraryFailure(rc, "basic.nack");
  if (broken_) return core::Fail(last_error_);
  return {};
}

std::string_view FieldKey(const amqp_table_entry_t& e) {
  return {static_cast<const char*>(e.key.bytes), e.key.len};
}

std::optional<std::int64_t> FieldInteger(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8:
      return v.value.i8;
    case AMQP_FIELD_KIND_U8:
      return v.value.u8;
    case AMQP_FIELD_KIND_I16:
      return v.value.i16;
    case AMQP_FIELD_KIND_U16:
      return v.value.u16;
    case AMQP_FIELD_KIND_I32:
      return v.value.i32;
    case AMQP_FIELD_KIND_U32:
      return v.value.u32;
    case AMQP_FIELD_KIND_I64:
      return v.value.i64;
    case AMQP_FIELD_KIND_U64:
      return static_cast<std::int64_t>(v.value.u64);
    default:
      return std::nullopt;
  }
}

std::string FieldText(const amqp_field_value_t& v) {
  if (v.kind == AMQP_FIELD_KIND_UTF8 || v.kind == AMQP_FIELD_KIND_BYTES) {
    return std::string(static_cast<const char*>(v.value.bytes.bytes), v.value.bytes.len);
  }
  if (auto n = FieldInteger(v)) return std::to_string(*n);
  return {};
}

namespace {

// "<reason> from <queue>, <count> times" of x-death's first (latest) entry.
std::string DeathOf(const amqp_field_value_t& v) {
  if (v.kind != AMQP_FIELD_KIND_ARRAY || v.value.array.num_entries < 1) return {};
  const amqp_field_value_t& first = v.value.array.entries[0];
  if (first.kind != AMQP_FIELD_KIND_TABLE) return {};
  std::string reason, queue, count;
  for (int i = 0; i < first.value.table.num_entries; ++i) {
    const amqp_table_entry_t& e = first.value.table.entries[i];
    if (FieldKey(e) == "reason") reason = FieldText(e.value);
    if (FieldKey(e) == "queue") queue = FieldText(e.value);
    if (FieldKey(e) == "count") count = FieldText(e.value);
  }
  return reason + " from " + queue + ", " + count + " times";
}

}  // namespace

core::Result<std::optional<ReceivedMessage>> AmqpConnection::Get(const std::string& queue) {
  if (broken_) return core::Fail(last_error_);
  amqp_rpc_reply_t reply = amqp_basic_get(state_, kChannel, Bytes(queue), /*no_ack=*/0);
  if (auto st = CheckReply(reply, "get from " + queue); !st.ok()) return core::Fail(st.error());
  if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::optional<ReceivedMessage>();
  if (reply.reply.id != AMQP_BASIC_GET_OK_METHOD) {
    return core::Fail(Break("get from " + queue + ": unexpected reply").error());
  }
  const auto* ok = static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded);
  ReceivedMessage m;
  m.delivery_tag = ok->delivery_tag;
  m.routing_key.assign(static_cast<const char*>(ok->routing_key.bytes), ok->routing_key.len);
  m.remaining = ok->message_count;
  amqp_message_t message;
  amqp_rpc_reply_t read = amqp_read_message(state_, kChannel, &message, 0);
  if (auto st = CheckReply(read, "read a message of " + queue); !st.ok()) {
    return core::Fail(st.error());
  }
  const amqp_basic_properties_t& p = message.properties;
  m.body.assign(static_cast<const char*>(message.body.bytes), message.body.len);
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
    m.message_id.assign(static_cast<const char*>(p.message_id.bytes), p.message_id.len);
  }
  if (p._flags & AMQP_BASIC_TYPE_FLAG) {
    m.type.assign(static_cast<const char*>(p.type.bytes), p.type.len);
  }
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = p.headers.entries[i];
      if (FieldKey(e) == "x-death") {
        m.death = DeathOf(e.value);
      } else if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
        m.headers.emplace_back(std::string(FieldKey(e)), FieldText(e.value));
      }
    }
  }
  amqp_destroy_message(&message);
  return std::optional<ReceivedMessage>(std::move(m));
}

core::Status AmqpConnection::Poll() {
  if (broken_) return core::Fail(last_error_);
  // Bounded: an idle owner only ever has a few stray frames (late confirms, a close) to read.
  for (int i = 0; i < 256; ++i) {
    amqp_frame_t frame;
    timeval zero{0, 0};
    int rc;
    {
      WriteGuard guard(*this);  // may send a heartbeat
      rc = amqp_simple_wait_frame_noblock(state_, &frame, &zero);
    }
    if (rc == AMQP_STATUS_TIMEOUT) return broken_ ? core::Fail(last_error_) : core::Status();
    if (rc != AMQP_STATUS_OK) return LibraryFailure(rc, "RabbitMQ connection");
    auto st = HandleCloseFrame(frame);
    if (!st.ok()) return st;
  }
  return {};
}

}  // namespace scrutin::rabbitmq

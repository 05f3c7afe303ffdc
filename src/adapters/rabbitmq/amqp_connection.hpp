// AmqpConnection: one AMQP 0-9-1 connection to RabbitMQ over rabbitmq-c 0.11, with one channel,
// and the few protocol operations the adapter needs (declare, bind, publish, consume, ack).
//
// rabbitmq-c is a synchronous C library whose connection state is not thread-safe: an
// AmqpConnection belongs to one thread at a time (the publisher thread, the consumer thread, the
// monitor under its mutex). Every operation is bounded in time: the TCP connect and the login by
// connect_timeout, RPCs (declare, bind, qos, consume) by io_timeout through the library's RPC
// timeout, and writes (publish, ack), which the library would otherwise wait on forever when the
// broker stops reading (flow control, a hung node), by a process-wide watchdog that shuts the
// socket down once io_timeout has passed. After any I/O error, timeout or connection-level close
// from the broker the connection is broken() for good and must be discarded; a channel-level
// error (e.g. a passive declare of a missing queue) is recovered by reopening the channel.
#pragma once

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace scrutin::rabbitmq {

// Where the broker is. Parsed from amqp[s]://[user[:password]@]host[:port][/vhost][?query]
// (percent-encoding allowed). An empty vhost ("amqp://host:port/", the form scripts/servers/start
// prints) means "/", as most clients read it; "%2f" is "/" explicitly.
// amqps:// is AMQP over TLS (default port 5671): TLS 1.2 or 1.3, the broker's certificate verified
// against `cacertfile` (default: the system's trust store, /etc/ssl/certs/ca-certificates.crt)
// and its name against the URL's host (rabbitmq-c compares the host with the certificate's DNS
// names: use a host name, not an IP address). The query takes RabbitMQ's URI parameters
// cacertfile, certfile and keyfile (a client certificate, both or neither) and verify=verify_peer;
// verify_none, any other parameter, or a parameter on amqp:// is refused, so that a typo can never
// turn verification off.
struct AmqpEndpoint {
  std::string host = "localhost";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  bool tls = false;
  std::string ca_file;    // empty: the system's trust store
  std::string cert_file;  // a client certificate (optional)
  std::string key_file;

  // "host:port/vhost", never the password: safe for logs and health details.
  std::string ToString() const;
};
core::Result<AmqpEndpoint> ParseAmqpUrl(std::string_view url);

struct ConnectionOptions {
  std::chrono::milliseconds connect_timeout{3000};
  // Bounds each RPC and each write. Reaching it breaks the connection.
  std::chrono::milliseconds io_timeout{5000};
  // AMQP heartbeat negotiated with the broker; serviced only while the owner calls into the
  // connection (publish, wait, consume), so an idle owner must Poll() more often than this.
  std::chrono::seconds heartbeat{30};
  // Shown in the broker's connection list (rabbitmqctl list_connections client_properties).
  std::string connection_name = "scrutin";
};

// A message to publish. Bodies are opaque bytes; message_id is the vote's request id.
struct OutgoingMessage {
  std::string exchange;
  std::string routing_key;
  std::string body;
  std::string message_id;
  std::string type;  // AMQP "type" property, e.g. "vote" or "decided-vote"
  std::vector<std::pair<std::string, std::string>> headers;  // string-valued headers
};

// An x-argument of queue.declare (x-queue-type, x-delivery-limit, x-dead-letter-exchange, ...).
struct QueueArgument {
  std::string key;
  std::string text;  // sent as a string when is_integer is false
  std::int64_t integer = 0;
  bool is_integer = false;
};

// A message taken with basic.get (administration: the dead-letter tool).
struct ReceivedMessage {
  std::uint64_t delivery_tag = 0;
  std::string routing_key;
  std::string body;
  std::string message_id;
  std::string type;
  std::vector<std::pair<std::string, std::string>> headers;  // the string-valued ones
  // RabbitMQ's x-death, when the broker dead-lettered it: "<reason> from <queue>, <count> times"
  // of its latest entry; empty otherwise.
  std::string death;
  std::uint32_t remaining = 0;  // messages left in the queue after this one
};

// What queue.declare (passive) reports about a queue.
struct QueueInfo {
  std::string name;
  std::uint32_t messages = 0;  // ready messages (not counting unacknowledged ones)
  std::uint32_t consumers = 0;
};

// Reading AMQP field tables (message headers): an entry's key, and a value as an integer (any of
// AMQP's integer kinds; nullopt otherwise) or as text (strings, and integers in decimal; empty for
// other kinds).
std::string_view FieldKey(const amqp_table_entry_t& entry);
std::optional<std::int64_t> FieldInteger(const amqp_field_value_t& value);
std::string FieldText(const amqp_field_value_t& value);

class AmqpConnection {
 public:
  static constexpr amqp_channel_t kChannel = 1;

  // Opens the TCP connection, logs in, opens channel kChannel. Error naming the endpoint and the
  // cause (refused, timeout, access refused, ...).
  static core::Result<std::unique_ptr<AmqpConnection>> Open(const AmqpEndpoint& endpoint,
                                                            const ConnectionOptions& options);
  // Closes politely when the connection is still healthy (bounded by io_timeout).
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  bool broken() const { return broken_; }
  // The raw state, for the adapter's frame loops. Valid while the object lives.
  amqp_connection_state_t state() { return state_; }

  // confirm.select: from now on every publish gets a sequence number (1, 2, ...) that the broker
  // acks or nacks. The sequence restarts when the channel is reopened.
  core::Status EnableConfirms();
  bool confirms_enabled() const { return confirms_; }
  // Sequence number of the last message published on this channel in confirm mode (0: none).
  std::uint64_t last_sequence() const { return sequence_; }

  core::Status DeclareExchange(const std::string& name, const std::string& type);  // durable
  // Durable queue with these x-arguments. A queue that exists with other arguments is a channel
  // error (PRECONDITION_FAILED), reported with its reason.
  core::Status DeclareQueue(const std::string& name, std::span<const QueueArgument> arguments);
  core::Status BindQueue(const std::string& queue, const std::string& exchange,
                         const std::string& routing_key);
  // Passive declare. A missing queue is an error ("NOT_FOUND ..."), after which the channel is
  // reopened so the connection stays usable.
  core::Result<QueueInfo> InspectQueue(const std::string& name);
  // Test and administration helpers.
  core::Status PurgeQueue(const std::string& name);
  core::Status DeleteQueue(const std::string& name);

  // Writes one persistent message (delivery_mode 2) with the mandatory flag; in confirm mode
  // advances last_sequence(). Success means written, not confirmed.
  core::Status Publish(const OutgoingMessage& message, bool mandatory);

  // basic.get without auto-ack: the next ready message, or nullopt when the queue is empty. The
  // message stays unacknowledged until Ack/Nack (or the connection closes: requeued).
  core::Result<std::optional<ReceivedMessage>> Get(const std::string& queue);

  core::Status Qos(std::uint16_t prefetch_count);
  core::Status Consume(const std::string& queue);
  core::Status Ack(std::uint64_t delivery_tag, bool multiple);
  core::Status Nack(std::uint64_t delivery_tag, bool multiple, bool requeue);

  // Services heartbeats and reads whatever the broker sent without waiting; an unexpected close
  // breaks the connection. For owners that are idle.
  core::Status Poll();

  // Marks the connection broken with `why` (returned as the error of later calls).
  core::Status Break(std::string why);
  const std::string& last_error() const { return last_error_; }

  // Answers a channel.close or connection.close that arrived as a frame: a channel close is
  // acknowledged and the channel reopened (confirm mode restored); a connection close breaks the
  // connection. Returns the broker's reason as an error either way.
  core::Status HandleCloseFrame(const amqp_frame_t& frame);

  // Turns a library status code into an error (breaking the connection when it is fatal).
  core::Status LibraryFailure(int status, std::string_view what);

  // Arms the write watchdog for the scope of a write (io_timeout from construction); see the
  // header comment. Nested guards are free: the outermost one sets the deadline, so a caller
  // writing a whole batch guards it once.
  class WriteGuard {
   public:
    explicit WriteGuard(AmqpConnection& conn);
    ~WriteGuard();
    WriteGuard(const WriteGuard&) = delete;
    WriteGuard& operator=(const WriteGuard&) = delete;

   private:
    AmqpConnection& conn_;
  };

 private:
  AmqpConnection() = default;
  // Turns an RPC reply into a status; recovers a channel-level close, breaks on the rest.
  core::Status CheckReply(const amqp_rpc_reply_t& reply, std::string_view what);
  core::Status ReopenChannel();

  amqp_connection_state_t state_ = nullptr;
  AmqpEndpoint endpoint_;
  ConnectionOptions options_;
  bool broken_ = false;
  bool confirms_ = false;
  std::uint64_t sequence_ = 0;
  int guard_depth_ = 0;  // WriteGuards alive
  std::string last_error_;
};

}  // namespace scrutin::rabbitmq

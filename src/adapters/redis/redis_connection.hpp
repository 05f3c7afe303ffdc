// One connection to one Redis node over hiredis 0.14 (plain) or over TLS (an OpenSSL session of
// ours with hiredis formatting the commands and parsing the replies), and what goes over it: the
// client options (timeouts bound every connect, read and write), commands with their routing key,
// and replies copied out of hiredis. RedisClient (redis_client.hpp) routes commands over these.
//
// Threading: a RedisConnection is not thread-safe; it belongs to one RedisClient, used by one
// thread at a time.
// Private to src/adapters/redis: other modules use its public headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/redis/redis_target.hpp"
#include "core/result.hpp"

namespace scrutin::redis {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  // Bounds every read and write on a connection; a node that does not answer within it is an error.
  std::chrono::milliseconds command_timeout{5000};
  // Redirections (MOVED, ASK) and transient cluster errors followed per command before giving up.
  int max_redirects = 16;
  // Reconnect backoff: 25 ms doubling per consecutive failure of a node, capped here.
  std::chrono::milliseconds max_backoff{1000};
  // Connection attempts per node within one Execute() before it reports the node unreachable.
  int connect_attempts = 3;
  // How long RedisClientPool::Acquire waits for a client while max_clients are leased, before it
  // fails: no caller waits for Redis without a bound (with connect_timeout and command_timeout,
  // which bound each connect, read and write).
  std::chrono::milliseconds acquire_timeout{2000};
};

// One reply, copied out of hiredis. Error replies are replies, not failures: they are the command's
// answer (e.g. WRONGTYPE); redirections are handled before a reply is handed out.
struct Reply {
  enum class Type : std::uint8_t { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
};

// A command and where its routing key is. Arguments are binary-safe.
struct Command {
  std::vector<std::string> args;
  // Index in args of the key that decides the slot; -1 for a command without a key (it goes to
  // the first master, or wherever ExecuteOn sends it).
  int key_arg = -1;

  static Command Keyless(std::initializer_list<std::string_view> args);
  static Command Keyed(int key_arg, std::initializer_list<std::string_view> args);
  std::string_view key() const { return key_arg >= 0 ? std::string_view(args[key_arg]) : ""; }
};

// A connection to one node. Not thread-safe. After an I/O error or a timeout it is broken() and
// must be discarded: the stream position is unknown.
class RedisConnection {
 public:
  // Connects to `endpoint` as `target` says: plain or TLS (rediss://, verified against its CA
  // and the endpoint's host), then AUTH (with the ACL user when given) and SELECT when asked.
  // Error naming the endpoint and the cause.
  static core::Result<std::unique_ptr<RedisConnection>> Connect(const Endpoint& endpoint,
                                                                const ClientOptions& options,
                                                                const RedisTarget& target);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Appends one command to the output buffer; nothing is sent until Read().
  void Append(const Command& command);
  // Writes everything appended so far (Read() would do it too); lets a caller start several nodes
  // on their pipelines before waiting for any. Error (and broken()) on I/O failure or timeout.
  core::Status Flush();
  // Flushes what was appended and reads the next reply. Error (and broken()) on I/O failure or
  // timeout.
  core::Result<Reply> Read();
  // Append + Read.
  core::Result<Reply> Run(const Command& command);

  bool broken() const { return broken_; }
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  RedisConnection() = default;

 public:
  struct Context;  // defined in redis_connection.cpp

 private:
  Context* ctx_ = nullptr;
  Endpoint endpoint_;
  bool broken_ = false;
};

}  // namespace scrutin::redis

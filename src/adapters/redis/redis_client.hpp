// A synchronous Redis client over hiredis 0.14 that speaks to one node or to a Redis Cluster.
//
// hiredis 0.14 has neither cluster support nor TLS, so the cluster part is ours: every command
// names the argument that holds its key, the client computes the key's slot (CRC16 with {hash
// tags}), sends it to the master serving that slot according to its copy of CLUSTER SLOTS, and
// follows MOVED (update the map, refresh it, resend), ASK (ASKING then resend to the importing
// node), TRYAGAIN / CLUSTERDOWN / LOADING (back off, resend), and node failures (reconnect with
// exponential backoff, refresh the map). Commands are pipelined: Execute() sends a whole span of
// commands, grouped per node, and reads all replies in one round trip per node.
//
// RedisClient is not thread-safe (one connection per node, used by one thread at a time);
// RedisClientPool hands clients out to threads.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace scrutin::redis {

struct Endpoint {
  std::string host;
  int port = 6379;

  bool operator==(const Endpoint&) const = default;
  std::string ToString() const;  // "host:port"
};

// "host:port" (port 1..65535). Error naming the bad part otherwise.
core::Result<Endpoint> ParseEndpoint(std::string_view text);

// Where the data lives. Parsed from a URL:
//   redis://[:password@]host:port[/db]             one node (db 0 unless given)
//   redis-cluster://[:password@]host:port[,host:port...]  a cluster, from any of its nodes
//   host:port,host:port,...                        a cluster too (REDIS_CLUSTER_NODES form)
struct RedisTarget {
  bool cluster = false;
  std::vector<Endpoint> nodes;  // single: exactly one; cluster: seeds
  std::string password;         // empty: no AUTH
  int db = 0;                   // single node only
};
core::Result<RedisTarget> ParseRedisTarget(std::string_view url);

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

inline constexpr int kClusterSlots = 16384;

// The cluster slot of a key: CRC16-XMODEM of the key, or of the part between the first '{' and
// the next '}' when that part is non-empty, modulo 16384.
std::uint16_t KeySlot(std::string_view key);

// A connection to one node. Not thread-safe. After an I/O error or a timeout it is broken() and
// must be discarded: the stream position is unknown.
class RedisConnection {
 public:
  // Connects (and sends AUTH / SELECT when asked). Error naming the endpoint and the cause.
  static core::Result<std::unique_ptr<RedisConnection>> Connect(const Endpoint& endpoint,
                                                                const ClientOptions& options,
                                                                const std::string& password,
                                                                int db);
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
  struct Context;
  Context* ctx_ = nullptr;
  Endpoint endpoint_;
  bool broken_ = false;
};

class RedisClient {
 public:
  // Connects to the target; in cluster mode reads the slot map from the first seed that answers.
  // Error when no node can be reached (or the map cannot be read).
  static core::Result<std::unique_ptr<RedisClient>> Connect(const RedisTarget& target,
                                                            const ClientOptions& options = {});

  // Runs every command, pipelined per node, and writes out[i] for commands[i]. Commands on the
  // same slot run in their order in `commands`. Error when a node cannot be reached, an I/O error
  // or timeout happens mid-pipeline, or a command exceeds max_redirects; `out` is then
  // unspecified and some commands may have run.
  // REQUIRES: out.size() == commands.size().
  core::Status Execute(std::span<const Command> commands, std::span<Reply> out);
  core::Result<Reply> Execute(const Command& command);

  // Runs one command on the given node (no routing, no redirection). For administration.
  core::Result<Reply> ExecuteOn(const Endpoint& node, const Command& command);

  // The masters (single node: the node), as of the last slot map.
  std::vector<Endpoint> Masters() const;

  // Re-reads CLUSTER SLOTS from a node that answers. No-op for a single node.
  core::Status RefreshSlots();

  bool cluster() const { return target_.cluster; }
  // How many MOVED and ASK redirections this client followed (for tests and metrics).
  std::uint64_t moved_count() const { return moved_; }
  std::uint64_t ask_count() const { return ask_; }

 private:
  struct Node {
    Endpoint endpoint;
    std::unique_ptr<RedisConnection> conn;
    int failures = 0;  // consecutive connection failures
    std::chrono::steady_clock::time_point retry_at{};
  };
  RedisClient() = default;
  std::size_t NodeIndex(const Endpoint& endpoint);
  core::Result<RedisConnection*> Conn(std::size_t node);
  int Route(const Command& command) const;

  RedisTarget target_;
  ClientOptions options_;
  std::vector<Node> nodes_;                        // index is stable; grows as nodes are learned
  std::array<std::int16_t, kClusterSlots> slots_;  // slot -> index in nodes_, -1 unknown
  std::vector<std::size_t> masters_;
  std::uint64_t moved_ = 0;
  std::uint64_t ask_ = 0;
};

// Thread-safe pool of RedisClients over one target, at most max_clients at a time.
class RedisClientPool {
 public:
  // Connects one client right away so that a bad target is reported at start-up.
  static core::Result<std::shared_ptr<RedisClientPool>> Create(const RedisTarget& target,
                                                               const ClientOptions& options = {},
                                                               std::size_t max_clients = 16);

  // A client for the caller's exclusive use until the Lease is destroyed.
  class Lease {
   public:
    Lease(RedisClientPool* pool, std::unique_ptr<RedisClient> client)
        : pool_(pool), client_(std::move(client)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    RedisClient* operator->() const { return client_.get(); }
    RedisClient& operator*() const { return *client_; }

   private:
    RedisClientPool* pool_;
    std::unique_ptr<RedisClient> client_;
  };

  // Waits while max_clients are leased, at most options.acquire_timeout; error when none was
  // released in time, or when a new client cannot connect. Thread-safe.
  core::Result<Lease> Acquire();

  const RedisTarget& target() const { return target_; }

 private:
  RedisClientPool(RedisTarget target, ClientOptions options, std::size_t max_clients)
      : target_(std::move(target)), options_(options), max_clients_(max_clients) {}
  void Release(std::unique_ptr<RedisClient> client);

  const RedisTarget target_;
  const ClientOptions options_;
  const std::size_t max_clients_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<RedisClient>> idle_;  // GUARDED_BY(mu_)
  std::size_t leased_ = 0;                          // GUARDED_BY(mu_)
};

}  // namespace scrutin::redis

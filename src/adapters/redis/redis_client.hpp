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
// Files: redis_target.hpp (URLs), redis_connection.hpp (one node), this file (routing over the
// cluster), redis_client_pool.hpp (clients shared by threads).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "adapters/redis/redis_connection.hpp"
#include "adapters/redis/redis_target.hpp"
#include "core/result.hpp"

namespace scrutin::redis {

inline constexpr int kClusterSlots = 16384;

// The cluster slot of a key: CRC16-XMODEM of the key, or of the part between the first '{' and
// the next '}' when that part is non-empty, modulo 16384.
std::uint16_t KeySlot(std::string_view key);

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

}  // namespace scrutin::redis

// RedisClientPool was declared here; callers that include this header still get it.
#include "adapters/redis/redis_client_pool.hpp"  // IWYU pragma: export

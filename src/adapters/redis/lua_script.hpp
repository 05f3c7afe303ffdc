// A Lua script of the Redis adapter (claim, load, rebuild, claim mirror): its text, the SHA-1 that
// EVALSHA calls it by (Redis computes the same digest on SCRIPT LOAD), and the one way to run it
// pipelined so that a node that lost its script cache (restart, failover, SCRIPT FLUSH) still runs
// it. Internal to the Redis adapter.
// Private to src/adapters/redis: other modules use its public headers.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "adapters/redis/redis_client.hpp"
#include "core/result.hpp"

namespace scrutin::redis {

// The SHA-1 of a script's text in lowercase hex. Pure; callable from any thread.
std::string ScriptSha(std::string_view script);

// Immutable once built, so one static instance may be shared by every thread.
class LuaScript {
 public:
  // `text` must outlive the object (the scripts are string literals).
  explicit LuaScript(std::string_view text) : text_(text), sha_(ScriptSha(text)) {}

  std::string_view text() const { return text_; }
  const std::string& sha() const { return sha_; }

  // EVALSHA <sha> 1 <key>, routed by the key; the caller appends the script's ARGV.
  Command Call(std::string key) const;

  // SCRIPT LOAD on every master, so that EVALSHA normally finds it. Error (kUnavailable) naming
  // the node that could not be reached or refused.
  core::Status Load(RedisClient& client) const;

  // Runs `commands` (built by Call) pipelined, writing replies[i] for commands[i]. Those a node
  // answered NOSCRIPT are sent again with EVAL and the text, in their order, in one more round
  // trip, and the script is loaded again for the next calls. Success: every reply is the script's
  // (which may be an error reply of its own: LOADING, OOM, a script error). Error (kUnavailable):
  // Redis unreachable or timing out; some commands may have run.
  // REQUIRES: replies.size() == commands.size(). Uses the caller's client (not thread-safe).
  core::Status Execute(RedisClient& client, std::span<const Command> commands,
                       std::span<Reply> replies) const;

 private:
  std::string_view text_;
  std::string sha_;
};

}  // namespace scrutin::redis

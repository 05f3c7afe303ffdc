// RedisStatusStore: the request statuses of the distributed shape, what GET /api/v1/vote/{id}
// reads. The aggregator writes each request's outcome once PostgreSQL holds it; the API reads it.
//
// One string key per request: <prefix>s:<core::StatusKey(id)> (a one-way function of the id, so
// the store cannot link a status to a request without the voter's id), value
// "<status letter><attempt count>|<law_id>" (e.g. "a1|L2025-001"), expiring at the time the
// writer gives (poll close plus retention) or after the store's default TTL.
//
// Tallies are not here: they live in PostgreSQL, so FindTally returns an error.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "adapters/redis/redis_client.hpp"
#include "core/request_id.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::redis {

struct StatusEntry {
  core::RequestId id;
  ports::StatusRecord record;
  // When the record may disappear; the epoch (default) means now + the store's default TTL.
  core::Timestamp expires_at{};
};

class RedisStatusStore final : public ports::VoteQueries {
 public:
  RedisStatusStore(std::shared_ptr<RedisClientPool> pool,
                   std::chrono::seconds default_ttl = std::chrono::hours(24 * 30),
                   std::string prefix = std::string(kDefaultStatusPrefix));

  static constexpr std::string_view kDefaultStatusPrefix = "sc:";

  // Writes every entry in one pipelined round trip per node. only_if_absent: keep a record that
  // already exists (for "pending", written by the API, so it never overwrites a final status the
  // aggregator wrote first). Error when Redis is unreachable or refuses a write; then some entries
  // may be written. Thread-safe.
  core::Status Put(std::span<const StatusEntry> entries, bool only_if_absent = false);

  // See ports::VoteQueries. Thread-safe.
  core::Result<std::optional<ports::StatusRecord>> FindStatus(const core::RequestId& id) override;
  // Always an error: tallies are in PostgreSQL.
  core::Result<ports::Tally> FindTally(const std::string& law_id) override;

  std::string Key(const core::RequestId& id) const;

 private:
  std::shared_ptr<RedisClientPool> pool_;
  const std::chrono::seconds default_ttl_;
  const std::string prefix_;
};

// The key of the status whose core::StatusKey is `status_key`, under `prefix`
// (RedisStatusStore::Key is StatusKeyName(prefix, core::StatusKey(id))).
std::string StatusKeyName(std::string_view prefix, std::string_view status_key);

// The stored value of a record, and back (nullopt on a malformed value).
std::string EncodeStatus(const ports::StatusRecord& record);
std::optional<ports::StatusRecord> DecodeStatus(std::string_view value);

}  // namespace scrutin::redis

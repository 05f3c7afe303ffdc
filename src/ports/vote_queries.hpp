// VoteQueries: the read side of the API — request statuses and tallies.
//
// Implementations: SqliteVoteQueries (embedded); Redis (statuses) and PostgreSQL (tallies) in the
// distributed shape.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/record.hpp"
#include "core/request_id.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::ports {

struct StatusRecord {
  std::string law_id;
  core::VoteStatus status = core::VoteStatus::kPending;
  std::uint32_t attempt_count = 0;
};

struct Tally {
  std::string law_id;
  std::uint64_t oui = 0;
  std::uint64_t non = 0;
  core::Timestamp updated_at;
  // Ballots recorded (sealed) and not yet counted: the mixer counts them in groups
  // (docs/ballot-secrecy.md). A closed law's results are final once this is 0.
  std::uint64_t sealed = 0;
};

class VoteQueries {
 public:
  virtual ~VoteQueries() = default;

  // The recorded status of a request; nullopt when unknown (never recorded, or expired).
  // Error only when the store cannot be read (code() kUnavailable) or holds a record it cannot
  // parse (kCorrupt).
  // Thread-safe. Blocking: a local read for SQLite (the embedded api calls it on its HTTP threads);
  // on the network up to the client's timeouts for Redis and PostgreSQL, which the distributed api
  // calls only from its lookup pool and tally cache, never from an HTTP thread.
  virtual core::Result<std::optional<StatusRecord>> FindStatus(const core::RequestId& id) = 0;

  // The law of the counted ballot whose receipt is `receipt` (as core::Receipt writes it);
  // nullopt when no counted ballot has it (never cast, or not mixed yet: ballots are counted in
  // groups, docs/ballot-secrecy.md). A store that keeps no receipts (RedisStatusStore) answers
  // kRefused. Thread-safe; blocks as FindStatus.
  virtual core::Result<std::optional<std::string>> FindReceipt(const std::string& receipt) {
    (void)receipt;
    return core::Fail(core::ErrorCode::kRefused, std::string("this store keeps no receipts"));
  }

  // The sealed record of a closed law (docs/ballot-secrecy.md); nullopt while none is sealed. A
  // store that keeps no records answers kRefused. Thread-safe; blocks as FindStatus.
  virtual core::Result<std::optional<core::PublishedRecord>> FindRecord(const std::string& law_id) {
    (void)law_id;
    return core::Fail(core::ErrorCode::kRefused, std::string("this store keeps no records"));
  }

  // The tally of one law (zeroes when no vote was counted yet). A store that keeps no tallies
  // (RedisStatusStore) answers kRefused. Thread-safe; blocks as FindStatus.
  virtual core::Result<Tally> FindTally(const std::string& law_id) = 0;

  // The tallies of several laws, out[i] for law_ids[i], in one read where the store can (a cache
  // refreshing every law many times a second then costs the store one query a round). Error when
  // the store cannot be read. Default: one FindTally per law. Thread-safe; blocks as FindStatus.
  virtual core::Result<std::vector<Tally>> FindTallies(const std::vector<std::string>& law_ids) {
    std::vector<Tally> out;
    out.reserve(law_ids.size());
    for (const auto& id : law_ids) {
      auto tally = FindTally(id);
      if (!tally) return core::Fail(tally.code(), tally.error());
      out.push_back(std::move(tally).value());
    }
    return out;
  }
};

using VoteQueriesPtr = std::unique_ptr<VoteQueries>;

}  // namespace scrutin::ports

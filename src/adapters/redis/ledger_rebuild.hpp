// LedgerRebuild: restores the credential ledger (eligibility, claims, attempt counts, markers,
// meta key) and the request statuses in Redis after Redis lost them, from the eligibility database
// and the record the caller streams in (PostgreSQL's accepted_credentials, its audit's attempt
// counts and request_status, read by the postgres adapter; `scrutin ledger rebuild` wires both).
//
// The ledger is written bucket by bucket, each bucket by ONE Lua script (one key: valid during a
// cluster slot migration) that atomically inserts the missing eligible digests, sets every claim
// the record holds, and sets the bucket's marker last. A validator that waits on a lost bucket
// (kStateLost) therefore resumes on it only once its claims are back, never on eligibility alone.
// The layout is the one a load of the same database gets (same bucket_bits, same ledger id), so
// validators that cached it at start resume without a restart.
//
// The record wins: a claim Redis holds under another tag is replaced by the record's; a claim with
// the same tag keeps the higher attempt count (Redis may have counted attempts the record does
// not hold yet); the attempts of a replaced claim are the higher of both too. Eligible digests
// already present keep their value. Statuses are overwritten with the record's final ones; a
// `pending` of the record never overwrites a status Redis holds. Running it twice changes nothing
// the second time (the second report counts every claim unchanged).
//
// What it cannot restore: the 32-byte fields that remember which request made which duplicate
// attempt (the record keeps no claim tag for duplicates), so a duplicate redelivered after a loss
// counts one more attempt.
//
// Usage: Start, then AddClaim for every claim in ascending digest order, FinishLedger, then
// AddStatus for every status, then Finish. Not thread-safe; one caller. Blocks on Redis.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_client.hpp"
#include "core/digest.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::redis {

struct RebuildOptions {
  std::string prefix{kDefaultPrefix};  // of the ledger and of the statuses, as the validators use
  std::size_t buckets_per_round_trip = 64;
  std::size_t statuses_per_round_trip = 1000;
  bool configure_listpack = true;  // as LoadOptions::configure_listpack
  // Called after each round trip of the ledger with (eligible digests written, total). May be
  // empty.
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

struct RebuildReport {
  std::uint64_t eligible = 0;           // distinct digests of the eligibility database
  std::uint64_t eligible_added = 0;     // of which were missing in Redis
  std::uint64_t claims_restored = 0;    // missing or unclaimed in Redis, set from the record
  std::uint64_t claims_replaced = 0;    // held by another tag in Redis, replaced by the record's
  std::uint64_t claims_raised = 0;      // same tag, the record's attempt count was higher
  std::uint64_t claims_unchanged = 0;   // Redis already held them as the record does
  std::uint64_t buckets = 0;            // buckets written (every one, markers included)
  std::uint64_t statuses_restored = 0;  // written (a pending Redis already had is not)
  std::uint32_t bucket_bits = 0;
  std::string id;
};

class LedgerRebuild {
 public:
  // Prepares the rebuild of the ledger of `sorted` (the eligibility database's digests, ascending;
  // the span must outlive this object) under options.prefix: the layout (PrepareLedger: the
  // recorded bucket_bits, else the loader's choice) and the script on every master. Errors:
  // Redis holds a ledger of another eligibility database under the prefix (kRefused, naming both
  // ids), `sorted` not ascending (kRefused), Redis unreachable or refusing (kUnavailable).
  static core::Result<std::unique_ptr<LedgerRebuild>> Start(RedisClient& client,
                                                            std::span<const core::Digest> sorted,
                                                            RebuildOptions options = {});

  // One claim of the record. Claims come in strictly ascending digest order; every bucket before
  // the claim's is written (pipelined) on the way. Errors: out of order or a claim tag that is not
  // 32 hex characters (kCorrupt), a digest the eligibility database does not hold (kRefused: the
  // record is another election's, or --hashes is not this election's database), Redis.
  core::Status AddClaim(const core::Digest& digest, std::string_view claim_tag_hex,
                        std::uint32_t attempts);

  // Writes every remaining bucket, then the meta key's count and id. Call once, after the last
  // AddClaim. From here on the ledger is whole again.
  core::Status FinishLedger();

  // One request status of the record (status_key: core::StatusKey of the request id), written
  // with expiry at expires_at. Pipelined; call Finish to send the last ones.
  core::Status AddStatus(std::string_view status_key, const ports::StatusRecord& record,
                         core::Timestamp expires_at);

  // Sends the statuses not sent yet and returns what was done.
  core::Result<RebuildReport> Finish();

  const LedgerLayout& layout() const { return layout_; }

 private:
  LedgerRebuild(RedisClient& client, std::span<const core::Digest> sorted, RebuildOptions options,
                LedgerLayout layout);
  // Appends the command writing bucket next_bucket_ (with pending_claims_) and advances.
  core::Status EmitBucket();
  core::Status FlushBuckets();
  core::Status FlushStatuses();

  struct Claim {
    std::string field;
    std::string tag;  // 16 raw bytes
    std::uint32_t attempts;
  };

  RedisClient& client_;
  const std::span<const core::Digest> digests_;
  const RebuildOptions options_;
  const LedgerLayout layout_;
  std::uint64_t next_bucket_ = 0;
  std::size_t digest_index_ = 0;
  std::vector<Claim> pending_claims_;
  std::optional<core::Digest> last_claim_;
  std::vector<Command> bucket_commands_;
  std::vector<std::uint64_t> bucket_sizes_;
  std::vector<Command> status_commands_;
  bool ledger_finished_ = false;
  RebuildReport report_;
};

}  // namespace scrutin::redis

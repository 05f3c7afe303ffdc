#include "adapters/postgres/postgres_vote_recorder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "adapters/postgres/pg_array.hpp"
#include "core/request_id.hpp"

namespace scrutin::postgres {
namespace {

// Each INSERT ... SELECT sorts by the table's key: row locks (and waits on another transaction's
// uncommitted key) are taken in one global order, so concurrent aggregators cannot deadlock.
constexpr std::string_view kInsertAudit =
    "INSERT INTO vote_audit (request_key, vote_hash, law_id, status, attempt_count, \"timestamp\") "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], "
    "$6::timestamptz[]) ORDER BY 1 "
    "ON CONFLICT (request_key) DO NOTHING";

constexpr std::string_view kInsertStatus =
    "INSERT INTO request_status (status_key, law_id, status, attempt_count, expires_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::timestamptz[]) "
    "ORDER BY 1 "
    "ON CONFLICT (status_key) DO NOTHING";

constexpr std::string_view kInsertClaims =
    "INSERT INTO accepted_credentials (vote_hash, law_id, claim_tag) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1 "
    "ON CONFLICT (vote_hash) DO NOTHING RETURNING claim_tag";

constexpr std::string_view kInsertBallots =
    "INSERT INTO ballots (receipt, law_id, choice) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1 "
    "ON CONFLICT (receipt) DO NOTHING RETURNING law_id, choice";

constexpr std::string_view kUpsertDuplicates =
    "INSERT INTO duplicate_attempts (vote_hash, law_id, attempt_count, first_attempt, "
    "last_attempt) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::timestamptz[], "
    "$5::timestamptz[]) ORDER BY 1 "
    "ON CONFLICT (vote_hash) DO UPDATE SET "
    "attempt_count = GREATEST(duplicate_attempts.attempt_count, excluded.attempt_count), "
    "first_attempt = LEAST(duplicate_attempts.first_attempt, excluded.first_attempt), "
    "last_attempt = GREATEST(duplicate_attempts.last_attempt, excluded.last_attempt)";

constexpr std::string_view kBumpTallies =
    "INSERT INTO vote_results (law_id, oui_count, non_count, updated_at) "
    "SELECT l, o, n, now() FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(l, o, n) "
    "ORDER BY l "
    "ON CONFLICT (law_id) DO UPDATE SET "
    "oui_count = vote_results.oui_count + excluded.oui_count, "
    "non_count = vote_results.non_count + excluded.non_count, "
    "updated_at = excluded.updated_at";

// Bounded, so that one purge never holds a transaction open for long.
constexpr std::string_view kPurgeStatuses =
    "DELETE FROM request_status WHERE status_key IN ("
    "SELECT status_key FROM request_status WHERE expires_at < now() LIMIT 10000)";

using Params = std::vector<std::optional<std::string>>;

void SleepBeforeRetry(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<int> ms(5, 20 * attempt);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
}

}  // namespace

// A batch turned into statement parameters once, reused by every try.
struct PostgresVoteRecorder::Batch {
  Params audit;       // request_key, vote_hash, law_id, status, attempt_count, timestamp
  Params status;      // status_key, law_id, status, attempt_count, expires_at
  Params claims;      // vote_hash, law_id, claim_tag (accepted votes only)
  Params duplicates;  // vote_hash, law_id, attempt_count, first, last (one row per digest)
  struct Ballot {
    std::string receipt;
    std::string law_id;
    std::string_view choice;
  };
  std::unordered_map<std::string, Ballot> ballot_by_tag;  // claim_tag -> the ballot it casts
  bool has_claims = false;
  bool has_duplicates = false;
};

PostgresVoteRecorder::PostgresVoteRecorder(PgPoolPtr pool, const core::Ballot& ballot,
                                           PostgresRecorderOptions options)
    : pool_(std::move(pool)),
      options_(options),
      last_purge_(std::chrono::steady_clock::now() - std::chrono::hours(1)) {
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  for (const auto& law : ballot.laws()) {
    expires_at_[law.id] = core::FormatTimestamp(law.closes_at + options_.status_retention);
  }
}

core::Status PostgresVoteRecorder::Record(std::span<const core::VoteEnvelope> votes,
                                          std::span<const core::Decision> decisions) {
  auto summary = RecordBatch(votes, decisions);
  if (!summary) return core::Fail(summary.code(), summary.error());
  return {};
}

core::Result<RecordSummary> PostgresVoteRecorder::RecordBatch(
    std::span<const core::VoteEnvelope> votes, std::span<const core::Decision> decisions) {
  if (votes.size() != decisions.size()) {
    return core::Fail(core::ErrorCode::kRefused,
                      fmt::format("cannot record votes: {} votes but {} decisions", votes.size(),
                                  decisions.size()));
  }
  if (votes.empty()) return RecordSummary{};

  Batch batch;
  PgArrayLiteral a_key, a_hash, a_law, a_status, a_attempts, a_time;
  PgArrayLiteral s_expires;
  PgArrayLiteral c_hash, c_law, c_tag;
  struct Dup {
    std::string law_id;
    std::uint32_t attempts = 0;
    core::Timestamp first, last;
  };
  std::map<std::string, Dup> duplicates;  // one upsert row per digest (DO UPDATE needs it)
  for (std::size_t i = 0; i < votes.size(); ++i) {
    const core::VoteEnvelope& v = votes[i];
    const core::Decision& d = decisions[i];
    if (d.status == core::VoteStatus::kPending) {
      return core::Fail(core::ErrorCode::kRefused,
                        std::string("cannot record votes: a vote of the batch is still pending"));
    }
    if (!expires_at_.contains(v.law_id)) {
      return core::Fail(core::ErrorCode::kRefused,
                        fmt::format("cannot record votes: law {} is not on the ballot", v.law_id));
    }
    std::string hash = v.digest.ToHex();
    std::string status(core::ToString(d.status));
    std::string key = core::StatusKey(v.request_id);
    a_key.Add(key);
    a_hash.Add(hash);
    a_law.Add(v.law_id);
    a_status.Add(status);
    a_attempts.Add(std::int64_t{d.attempt_count});
    a_time.Add(core::FormatTimestamp(v.received_at));
    s_expires.Add(expires_at_.find(v.law_id)->second);

    if (d.status == core::VoteStatus::kAccepted) {
      std::string tag = core::ClaimTag(v.request_id);
      c_hash.Add(hash);
      c_law.Add(v.law_id);
      c_tag.Add(tag);
      batch.ballot_by_tag.try_emplace(
          std::move(tag), Batch::Ballot{core::Receipt(v.request_id), v.law_id, ToString(v.choice)});
    } else if (d.status == core::VoteStatus::kDuplicate) {
      auto [it, fresh] = duplicates.try_emplace(std::move(hash));
      Dup& dup = it->second;
      if (fresh) {
        dup = Dup{v.law_id, d.attempt_count, v.received_at, v.received_at};
      } else {
        dup.attempts = std::max(dup.attempts, d.attempt_count);
        dup.first = std::min(dup.first, v.received_at);
        dup.last = std::max(dup.last, v.received_at);
      }
    }
  }
  std::string keys = a_key.Take(), laws = a_law.Take(), statuses = a_status.Take(),
              attempts = a_attempts.Take();
  batch.audit = {keys, a_hash.Take(), laws, statuses, attempts, a_time.Take()};
  batch.status = {keys, laws, statuses, attempts, s_expires.Take()};
  batch.has_claims = c_hash.size() > 0;
  batch.claims = {c_hash.Take(), c_law.Take(), c_tag.Take()};
  batch.has_duplicates = !duplicates.empty();
  PgArrayLiteral d_hash, d_law, d_attempts, d_first, d_last;
  for (const auto& [hash, dup] : duplicates) {
    d_hash.Add(hash);
    d_law.Add(dup.law_id);
    d_attempts.Add(std::int64_t{dup.attempts});
    d_first.Add(core::FormatTimestamp(dup.first));
    d_last.Add(core::FormatTimestamp(dup.last));
  }
  batch.duplicates = {d_hash.Take(), d_law.Take(), d_attempts.Take(), d_first.Take(),
                      d_last.Take()};

  std::string last_error;
  // Lost connections, deadlocks, serialization failures, and SQLSTATE classes 08 (connection), 53
  // (insufficient resources) and 57 (operator intervention) are the server's state: unavailable.
  // Anything else the server refused is a schema that is not what this binary expects: corrupt.
  core::ErrorCode last_code = core::ErrorCode::kUnavailable;
  bool verify = false;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    auto lease = pool_->Acquire(verify);
    if (!lease) {
      // The pool already waited (busy) or is backing off (server down): let the caller retry.
      return core::Fail(core::ErrorCode::kUnavailable,
                        fmt::format("cannot record votes: {}", lease.error()));
    }
    auto result = RecordOnce(**lease, batch);
    if (result) {
      *lease = PgPool::Lease();  // back to the pool before the purge borrows one
      result->attempts = attempt;
      MaybePurgeExpired();
      return std::move(*result);
    }
    const PgError& e = result.error();
    last_error = ToStatus("cannot record votes", e).error();
    const std::string_view state_class = std::string_view(e.sqlstate).substr(0, 2);
    last_code = e.connection_lost || e.retryable_transaction() || e.sqlstate.empty() ||
                        state_class == "08" || state_class == "53" || state_class == "57"
                    ? core::ErrorCode::kUnavailable
                    : core::ErrorCode::kCorrupt;
    if (e.connection_lost) {
      lease->Discard();
      verify = true;
      continue;
    }
    (void)(*lease)->ExecScript("ROLLBACK");
    if (!e.retryable_transaction()) break;
    SleepBeforeRetry(attempt);
  }
  return core::Fail(last_code, last_error);
}

core::Result<RecordSummary, PgError> PostgresVoteRecorder::RecordOnce(PgConnection& conn,
                                                                      const Batch& batch) {
  RecordSummary summary;
  if (auto r = conn.ExecScript("BEGIN"); !r) return core::Fail(r.error());
  auto audit = conn.Exec(kInsertAudit, batch.audit);
  if (!audit) return core::Fail(audit.error());
  summary.audit_rows = audit->affected();
  if (auto r = conn.Exec(kInsertStatus, batch.status); !r) return core::Fail(r.error());

  if (batch.has_claims) {
    auto claimed = conn.Exec(kInsertClaims, batch.claims);
    if (!claimed) return core::Fail(claimed.error());
    if (claimed->rows() > 0) {
      // Ballots only for the claims that are new in this transaction: a redelivered vote (its
      // digest already claimed, by itself) casts nothing.
      PgArrayLiteral receipts, laws, choices;
      for (int row = 0; row < claimed->rows(); ++row) {
        auto it = batch.ballot_by_tag.find(std::string(claimed->Text(row, 0)));
        if (it == batch.ballot_by_tag.end()) continue;  // cannot happen: tags come from the batch
        receipts.Add(it->second.receipt);
        laws.Add(it->second.law_id);
        choices.Add(it->second.choice);
      }
      Params ballots = {receipts.Take(), laws.Take(), choices.Take()};
      auto cast = conn.Exec(kInsertBallots, ballots);
      if (!cast) return core::Fail(cast.error());
      for (int row = 0; row < cast->rows(); ++row) {
        auto& counts = summary.counted[std::string(cast->Text(row, 0))];
        (cast->Text(row, 1) == "oui" ? counts.oui : counts.non) += 1;
      }
    }
  }

  if (batch.has_duplicates) {
    if (auto r = conn.Exec(kUpsertDuplicates, batch.duplicates); !r) return core::Fail(r.error());
  }

  if (!summary.counted.empty()) {
    // The tallies grow by exactly the ballots written above, so they always equal a recount.
    PgArrayLiteral laws, oui, non;
    for (const auto& [law, counts] : summary.counted) {  // std::map: in law_id order
      laws.Add(law);
      oui.Add(counts.oui);
      non.Add(counts.non);
    }
    Params tallies = {laws.Take(), oui.Take(), non.Take()};
    if (auto r = conn.Exec(kBumpTallies, tallies); !r) return core::Fail(r.error());
  }

  if (auto r = conn.ExecScript("COMMIT"); !r) return core::Fail(r.error());
  return summary;
}

void PostgresVoteRecorder::MaybePurgeExpired() {
  {
    core::MutexLock lock(purge_mu_);
    auto now = std::chrono::steady_clock::now();
    if (now - last_purge_ < std::chrono::minutes(1)) return;
    last_purge_ = now;
  }
  auto lease = pool_->Acquire();
  if (lease) (void)(*lease)->ExecScript(kPurgeStatuses);  // best effort; retried next minute
}

}  // namespace scrutin::postgres

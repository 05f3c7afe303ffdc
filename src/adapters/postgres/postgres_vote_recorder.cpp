#include "adapters/postgres/postgres_vote_recorder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "adapters/postgres/pg_array.hpp"
#include "core/digest.hpp"
#include "core/request_id.hpp"

namespace scrutin::postgres {
namespace {

// Each INSERT ... SELECT sorts by the table's key: row locks (and waits on another transaction's
// uncommitted key) are taken in one global order, so concurrent aggregators cannot deadlock.
constexpr std::string_view kFindRecorded =
    "SELECT request_key, status, attempt_count FROM vote_audit "
    "WHERE request_key = ANY($1::text[])";

constexpr std::string_view kInsertClaims =
    "INSERT INTO accepted_credentials (vote_hash, law_id, claim_tag) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1 "
    "ON CONFLICT (vote_hash) DO NOTHING RETURNING claim_tag";

constexpr std::string_view kFindHolders =
    "SELECT vote_hash, claim_tag FROM accepted_credentials WHERE vote_hash = ANY($1::text[])";

// Attempts the audit knows for each credential (the accepted one and the duplicates).
constexpr std::string_view kCountAttempts =
    "SELECT vote_hash, count(*) FROM vote_audit "
    "WHERE vote_hash = ANY($1::text[]) AND status <> 'invalid' GROUP BY vote_hash";

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

// The sealed ballots of the new claims (docs/ballot-secrecy.md): ciphertext only, in the claim's
// transaction; the mixer opens them later in groups, in transactions of its own.
constexpr std::string_view kInsertSealed =
    "INSERT INTO sealed_ballots (law_id, sealed) "
    "SELECT l, decode(s, 'hex') FROM unnest($1::text[], $2::text[]) AS t(l, s)";

constexpr std::string_view kUpsertDuplicates =
    "INSERT INTO duplicate_attempts (vote_hash, law_id, attempt_count, first_attempt, "
    "last_attempt) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::timestamptz[], "
    "$5::timestamptz[]) ORDER BY 1 "
    "ON CONFLICT (vote_hash) DO UPDATE SET "
    "attempt_count = GREATEST(duplicate_attempts.attempt_count, excluded.attempt_count), "
    "first_attempt = LEAST(duplicate_attempts.first_attempt, excluded.first_attempt), "
    "last_attempt = GREATEST(duplicate_attempts.last_attempt, excluded.last_attempt)";

// Bounded, so that one purge never holds a transaction open for long.
constexpr std::string_view kPurgeStatuses =
    "DELETE FROM request_status WHERE status_key IN ("
    "SELECT status_key FROM request_status WHERE expires_at < now() LIMIT 10000)";

using Params = std::vector<std::optional<std::string>>;

// One duplicate_attempts row of a batch.
struct Dup {
  std::string_view law_id;
  std::uint32_t attempts = 0;
  std::string_view first, last;  // RFC 3339 UTC with milliseconds: ordered as text
};

void SleepBeforeRetry(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<int> ms(5, 20 * attempt);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
}

}  // namespace

// A batch turned into strings once, reused by every try.
struct PostgresVoteRecorder::Batch {
  struct Vote {
    std::string key;   // request_key / status_key
    std::string hash;  // vote_hash
    std::string tag;   // claim_tag
    std::string_view law_id;
    std::string sealed;  // hex of the sealed ballot
    std::string received;  // RFC 3339
    std::string_view expires;
    core::Decision decision;  // the validator's
  };
  std::vector<Vote> votes;
  std::string keys;  // every request key, as an array literal
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
                                          std::span<core::Decision> decisions) {
  auto summary = RecordBatch(votes, decisions);
  if (!summary) return core::Fail(summary.code(), summary.error());
  return {};
}

core::Result<RecordSummary> PostgresVoteRecorder::RecordBatch(
    std::span<const core::VoteEnvelope> votes, std::span<core::Decision> decisions) {
  if (votes.size() != decisions.size()) {
    return core::Fail(core::ErrorCode::kRefused,
                      fmt::format("cannot record votes: {} votes but {} decisions", votes.size(),
                                  decisions.size()));
  }
  if (votes.empty()) return RecordSummary{};

  Batch batch;
  batch.votes.reserve(votes.size());
  PgArrayLiteral keys;
  for (std::size_t i = 0; i < votes.size(); ++i) {
    const core::VoteEnvelope& v = votes[i];
    if (decisions[i].status == core::VoteStatus::kPending) {
      return core::Fail(core::ErrorCode::kRefused,
                        std::string("cannot record votes: a vote of the batch is still pending"));
    }
    auto expires = expires_at_.find(v.law_id);
    if (expires == expires_at_.end()) {
      return core::Fail(core::ErrorCode::kRefused,
                        fmt::format("cannot record votes: law {} is not on the ballot", v.law_id));
    }
    Batch::Vote& b = batch.votes.emplace_back();
    b.key = core::StatusKey(v.request_id);
    b.hash = v.digest.ToHex();
    b.tag = core::ClaimTag(v.request_id);
    b.law_id = expires->first;
    b.sealed = core::HexEncode(v.ballot.data(), v.ballot.size());
    b.received = core::FormatTimestamp(v.received_at);
    b.expires = expires->second;
    b.decision = decisions[i];
    keys.Add(b.key);
  }
  batch.keys = keys.Take();

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
    auto result = RecordOnce(**lease, batch, votes, decisions);
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

core::Result<RecordSummary, PgError> PostgresVoteRecorder::RecordOnce(
    PgConnection& conn, const Batch& batch, std::span<const core::VoteEnvelope> votes,
    std::span<core::Decision> decisions) {
  using core::VoteStatus;
  RecordSummary summary;
  const std::size_t n = batch.votes.size();
  // The decision each vote ends with: the validator's, unless PostgreSQL says otherwise.
  std::vector<core::Decision> final_decision(n);
  std::vector<bool> recorded_before(n, false);
  for (std::size_t i = 0; i < n; ++i) final_decision[i] = batch.votes[i].decision;

  if (auto r = conn.ExecScript("BEGIN"); !r) return core::Fail(r.code(), r.error());

  // 1. A request recorded before (a redelivery) keeps the decision recorded then.
  {
    auto found = conn.Exec(kFindRecorded, Params{batch.keys});
    if (!found) return core::Fail(found.code(), found.error());
    if (found->rows() > 0) {
      std::unordered_map<std::string_view, int> row_of;
      for (int row = 0; row < found->rows(); ++row) row_of.emplace(found->Text(row, 0), row);
      for (std::size_t i = 0; i < n; ++i) {
        auto it = row_of.find(batch.votes[i].key);
        if (it == row_of.end()) continue;
        auto status = core::ParseVoteStatus(found->Text(it->second, 1));
        if (!status) continue;  // the schema's CHECK makes this impossible
        recorded_before[i] = true;
        final_decision[i].status = *status;
        final_decision[i].attempt_count =
            static_cast<std::uint32_t>(std::max<std::int64_t>(found->Int(it->second, 2), 0));
        final_decision[i].replay = *status == VoteStatus::kAccepted;
      }
    }
  }

  // 2. Claim the credentials of the accepted votes; the claims that are new cast a ballot.
  std::unordered_set<std::string_view> new_claims;
  PgArrayLiteral sealed_laws, sealed_ballots;
  {
    PgArrayLiteral hashes, laws, tags;
    for (std::size_t i = 0; i < n; ++i) {
      if (recorded_before[i] || final_decision[i].status != VoteStatus::kAccepted) continue;
      hashes.Add(batch.votes[i].hash);
      laws.Add(batch.votes[i].law_id);
      tags.Add(batch.votes[i].tag);
    }
    if (hashes.size() > 0) {
      auto claimed = conn.Exec(kInsertClaims, Params{hashes.Take(), laws.Take(), tags.Take()});
      if (!claimed) return core::Fail(claimed.code(), claimed.error());
      std::unordered_set<std::string> returned;
      for (int row = 0; row < claimed->rows(); ++row) returned.emplace(claimed->Text(row, 0));
      for (std::size_t i = 0; i < n; ++i) {
        const Batch::Vote& b = batch.votes[i];
        if (recorded_before[i] || final_decision[i].status != VoteStatus::kAccepted ||
            !returned.contains(b.tag)) {
          continue;
        }
        // A message redelivered into the same batch carries the same claim: one sealed ballot.
        if (!new_claims.insert(b.tag).second) continue;
        sealed_laws.Add(b.law_id);
        sealed_ballots.Add(b.sealed);
        summary.sealed[std::string(b.law_id)] += 1;
      }
    }
  }

  // 3. PostgreSQL is the record: for an accepted vote it did not claim, and for a duplicate, who
  // holds the credential here decides (a ledger that lost claims accepts a second request; one
  // that lost and regained them may call the holder's own redelivery a duplicate).
  {
    PgArrayLiteral hashes;
    std::vector<std::size_t> asked;
    for (std::size_t i = 0; i < n; ++i) {
      const VoteStatus s = final_decision[i].status;
      if (recorded_before[i]) continue;
      if ((s == VoteStatus::kAccepted && !new_claims.contains(batch.votes[i].tag)) ||
          s == VoteStatus::kDuplicate) {
        hashes.Add(batch.votes[i].hash);
        asked.push_back(i);
      }
    }
    if (!asked.empty()) {
      auto holders = conn.Exec(kFindHolders, Params{hashes.Take()});
      if (!holders) return core::Fail(holders.code(), holders.error());
      std::unordered_map<std::string_view, std::string_view> holder_of;
      for (int row = 0; row < holders->rows(); ++row) {
        holder_of.emplace(holders->Text(row, 0), holders->Text(row, 1));
      }
      for (std::size_t i : asked) {
        auto it = holder_of.find(batch.votes[i].hash);
        const bool holds = it != holder_of.end() && it->second == batch.votes[i].tag;
        core::Decision& d = final_decision[i];
        if (holds) {
          if (d.status != VoteStatus::kAccepted) ++summary.corrected;
          d = core::Decision{VoteStatus::kAccepted, 1, /*replay=*/true};
        } else if (d.status == VoteStatus::kAccepted) {
          // Claimed here by another request: a duplicate, whatever the ledger said.
          ++summary.corrected;
          d = core::Decision{VoteStatus::kDuplicate, 2, false};
        }
      }
    }
  }

  // 4. The attempt count of every duplicate is at least what the audit knows: the attempts it
  // holds for the credential plus this one. A ledger's duplicate keeps a higher count of its own
  // (the accepted attempt may not have reached this store yet); the duplicates PostgreSQL made of
  // the ledger's "accepted" votes are numbered after the audit's, in batch order.
  {
    std::map<std::string_view, std::int64_t> attempts_known;
    PgArrayLiteral hashes;
    for (std::size_t i = 0; i < n; ++i) {
      if (recorded_before[i] || final_decision[i].status != VoteStatus::kDuplicate) continue;
      if (attempts_known.emplace(batch.votes[i].hash, 0).second) hashes.Add(batch.votes[i].hash);
    }
    if (!attempts_known.empty()) {
      auto counted = conn.Exec(kCountAttempts, Params{hashes.Take()});
      if (!counted) return core::Fail(counted.code(), counted.error());
      for (int row = 0; row < counted->rows(); ++row) {
        auto it = attempts_known.find(counted->Text(row, 0));
        if (it != attempts_known.end()) it->second = counted->Int(row, 1);
      }
      std::map<std::string_view, std::int64_t> corrected_so_far;
      for (std::size_t i = 0; i < n; ++i) {
        if (recorded_before[i] || final_decision[i].status != VoteStatus::kDuplicate) continue;
        const std::string_view hash = batch.votes[i].hash;
        const bool from_ledger = batch.votes[i].decision.status == VoteStatus::kDuplicate;
        const std::int64_t floor =
            attempts_known[hash] + (from_ledger ? 1 : ++corrected_so_far[hash]);
        const std::int64_t count = std::max<std::int64_t>(
            {floor, std::int64_t{2},
             from_ledger ? std::int64_t{final_decision[i].attempt_count} : std::int64_t{0}});
        final_decision[i].attempt_count =
            static_cast<std::uint32_t>(std::min<std::int64_t>(count, INT32_MAX));
      }
    }
  }

  // 5. The audit row and the status of every new request, with its final decision.
  {
    PgArrayLiteral a_key, a_hash, a_law, a_status, a_attempts, a_time, s_expires;
    std::map<std::string_view, Dup> duplicates;  // one upsert row per digest (DO UPDATE needs it)
    for (std::size_t i = 0; i < n; ++i) {
      if (recorded_before[i]) continue;
      const Batch::Vote& b = batch.votes[i];
      const core::Decision& d = final_decision[i];
      a_key.Add(b.key);
      a_hash.Add(b.hash);
      a_law.Add(b.law_id);
      a_status.Add(core::ToString(d.status));
      a_attempts.Add(std::int64_t{d.attempt_count});
      a_time.Add(b.received);
      s_expires.Add(b.expires);
      if (d.status == VoteStatus::kDuplicate) {
        auto [it, fresh] =
            duplicates.try_emplace(b.hash, Dup{b.law_id, d.attempt_count, b.received, b.received});
        if (!fresh) {
          Dup& dup = it->second;
          dup.attempts = std::max(dup.attempts, d.attempt_count);
          dup.first = std::min(dup.first, std::string_view(b.received));
          dup.last = std::max(dup.last, std::string_view(b.received));
        }
      }
    }
    if (a_key.size() > 0) {
      std::string keys = a_key.Take(), laws = a_law.Take(), statuses = a_status.Take(),
                  attempts = a_attempts.Take();
      auto audit = conn.Exec(kInsertAudit,
                             Params{keys, a_hash.Take(), laws, statuses, attempts, a_time.Take()});
      if (!audit) return core::Fail(audit.code(), audit.error());
      summary.audit_rows = audit->affected();
      if (auto r =
              conn.Exec(kInsertStatus, Params{keys, laws, statuses, attempts, s_expires.Take()});
          !r) {
        return core::Fail(r.code(), r.error());
      }
    }

    // 6. The sealed ballots of the new claims only, and the duplicates' attempt counts.
    if (sealed_laws.size() > 0) {
      if (auto r = conn.Exec(kInsertSealed, Params{sealed_laws.Take(), sealed_ballots.Take()});
          !r) {
        return core::Fail(r.code(), r.error());
      }
    }
    if (!duplicates.empty()) {
      PgArrayLiteral d_hash, d_law, d_attempts, d_first, d_last;
      for (const auto& [hash, dup] : duplicates) {
        d_hash.Add(hash);
        d_law.Add(dup.law_id);
        d_attempts.Add(std::int64_t{dup.attempts});
        d_first.Add(dup.first);
        d_last.Add(dup.last);
      }
      if (auto r =
              conn.Exec(kUpsertDuplicates, Params{d_hash.Take(), d_law.Take(), d_attempts.Take(),
                                                  d_first.Take(), d_last.Take()});
          !r) {
        return core::Fail(r.code(), r.error());
      }
    }
  }

  // No tally moves here: the mixer counts the sealed ballots in groups, in its own transactions.
  if (auto r = conn.ExecScript("COMMIT"); !r) return core::Fail(r.code(), r.error());
  std::copy(final_decision.begin(), final_decision.end(), decisions.begin());
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

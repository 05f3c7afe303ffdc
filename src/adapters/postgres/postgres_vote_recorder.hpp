// PostgresVoteRecorder: the aggregator's VoteRecorder. Records a batch of decided votes in ONE
// PostgreSQL transaction of a handful of statements whatever the batch size (each column of the
// batch travels as one array parameter and is unnested server-side):
//
//   1. vote_audit: which requests were recorded before (a redelivery keeps its recorded decision);
//   2. accepted_credentials: the accepted digests, ON CONFLICT DO NOTHING RETURNING the claim tags
//      of the rows that were new;
//   3. accepted_credentials again, only for accepted votes it did not claim and for duplicates:
//      who holds the credential here. PostgreSQL is the record, so a ledger that lost claims
//      cannot make it contradict itself: an accepted vote claimed here by another request is
//      recorded (and answered) as a duplicate, a "duplicate" from the holder itself as accepted;
//   4. vote_audit counts, only for duplicates: their attempt count is at least what the audit
//   knows;
//   5. vote_audit and request_status: one row per new request with its final decision;
//   6. sealed_ballots, only for the new claims of step 2 (law and ciphertext: the choice and the
//      receipt stay sealed; PostgresBallotBox's mixer opens them later in groups, in transactions
//      of its own, and moves the tallies), and duplicate_attempts, an upsert keeping the highest
//      attempt count;
//   COMMIT (synchronous_commit = on: durable when it returns). Record() then hands back each
//   vote's final decision, which the aggregator writes as the voter's status.
//
// Exactly once: a redelivered batch finds its digests claimed and its request keys audited, so it
// changes nothing; a batch overlapping a committed one counts only its new votes. No choice is
// ever in this transaction: what it shares with the claims (xmin, WAL records) is ciphertext.
//
// Concurrent aggregators stay exact and deadlock-free: every statement takes its row locks in
// key order (ORDER BY in each INSERT ... SELECT), and the statements run in
// the same table order in every transaction. A deadlock or serialization failure reported by the
// server anyway, or a connection lost mid-batch, is retried on another connection (recording is
// idempotent, so retrying a batch whose COMMIT may have succeeded is safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "adapters/postgres/pg_pool.hpp"
#include "core/ballot.hpp"
#include "core/mutex.hpp"
#include "core/result.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::postgres {

struct PostgresRecorderOptions {
  // Request statuses are kept until the law's closes_at plus this long.
  std::chrono::seconds status_retention{std::chrono::hours(24 * 30)};
  // Tries of one batch when the connection is lost or the server reports a deadlock.
  int max_attempts = 3;
};

// What one batch changed.
struct RecordSummary {
  std::map<std::string, std::int64_t> sealed;  // new sealed ballots per law (none for a redelivery)
  std::int64_t audit_rows = 0;            // new audit rows (0 for a redelivery)
  std::int64_t corrected = 0;             // decisions PostgreSQL's claims changed
  int attempts = 1;                       // transactions it took
};

class PostgresVoteRecorder final : public ports::VoteRecorder {
 public:
  // REQUIRES: Migrate() and SeedTallies() have run on the pool's database.
  PostgresVoteRecorder(PgPoolPtr pool, const core::Ballot& ballot,
                       PostgresRecorderOptions options = {});

  // ports::VoteRecorder. Thread-safe (each call uses its own pooled connection), which is more
  // than the port requires.
  core::Status Record(std::span<const core::VoteEnvelope> votes,
                      std::span<core::Decision> decisions) override;

  // Record() telling what changed. Errors: a vote for a law not on the ballot, a pending
  // decision, the database unreachable or refusing after max_attempts tries (nothing of the
  // batch is then visible, unless the last COMMIT succeeded unacknowledged, which a retry of the
  // batch finds and does not count again).
  core::Result<RecordSummary> RecordBatch(std::span<const core::VoteEnvelope> votes,
                                          std::span<core::Decision> decisions);

 private:
  struct Batch;
  core::Result<RecordSummary, PgError> RecordOnce(PgConnection& conn, const Batch& batch,
                                                  std::span<const core::VoteEnvelope> votes,
                                                  std::span<core::Decision> decisions);
  void MaybePurgeExpired();

  PgPoolPtr pool_;
  PostgresRecorderOptions options_;
  std::map<std::string, std::string, std::less<>> expires_at_;  // law_id -> RFC 3339

  core::Mutex purge_mu_;
  std::chrono::steady_clock::time_point last_purge_ GUARDED_BY(purge_mu_);
};

}  // namespace scrutin::postgres

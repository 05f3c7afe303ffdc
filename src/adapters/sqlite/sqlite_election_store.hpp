// SqliteElectionStore: the embedded shape's durable state, one SQLite file in WAL mode. Its
// recorder defers syncs (ports::VoteRecorder::defers_sync): a batch is durable once Sync() returned,
// one fdatasync of the log for every batch committed before it.
//
// The tables mirror the PostgreSQL schema (docs/schema.md): vote_results, vote_audit,
// duplicate_attempts from the original design, plus accepted_credentials (digest + claim tag),
// sealed_ballots (written with the claim), ballots (law + choice) and receipts (written apart by
// the mixer, docs/ballot-secrecy.md) and request_status (keyed by core::StatusKey, with an
// expiry). No table holds a NAS, a code or a request id.
//
// It provides the VoteRecorder (one writer), VoteQueries (a pool of read-only connections),
// BallotBox (the mixer's connection) and LawSchedule (the admin port's) ports, and the start-up recovery reads that rebuild the
// in-memory ledger.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/ballot.hpp"
#include "core/digest.hpp"
#include "core/result.hpp"
#include "ports/ballot_box.hpp"
#include "ports/law_schedule.hpp"
#include "ports/vote_queries.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::adapters::sqlite {

struct SqliteStoreOptions {
  std::filesystem::path file;  // e.g. <data dir>/scrutin.db
  // Identifies the eligibility database (scheme + shard checksums). Recorded at first open; a later
  // open with another value is refused, because the recorded claims would not match.
  std::string eligibility_fingerprint;
  // Request statuses are kept until the law's closes_at plus this long.
  std::chrono::seconds status_retention{std::chrono::hours(24 * 30)};
};

class SqliteElectionStore {
 public:
  // Opens (creating and migrating as needed) the database. Errors: unwritable path, corrupt file,
  // newer schema than this binary knows, eligibility fingerprint mismatch.
  static core::Result<std::unique_ptr<SqliteElectionStore>> Open(const SqliteStoreOptions& options,
                                                                  const core::Ballot& ballot);
  ~SqliteElectionStore();

  // Single writer (the embedded writer thread).
  ports::VoteRecorder& recorder();
  // Thread-safe; each call borrows a read-only connection from a pool.
  ports::VoteQueries& queries();
  // On the recorder's connection: the writer thread only, between Record() calls.
  ports::BallotBox& ballot_box();
  // The closing times moved on the admin port and their audit. Thread-safe (its own connection).
  ports::LawSchedule& law_schedule();

  // Start-up recovery: every accepted credential with its claim tag, and every credential's
  // attempt count beyond the first. Not thread-safe with recorder().
  core::Status ForEachClaim(
      const std::function<core::Status(const core::Digest&, std::string_view claim_tag)>& fn);
  core::Status ForEachAttempts(
      const std::function<core::Status(const core::Digest&, std::uint32_t)>& fn);

  struct Impl;

 private:
  explicit SqliteElectionStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace scrutin::adapters::sqlite

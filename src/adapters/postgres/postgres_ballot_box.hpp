// PostgresBallotBox: the aggregators' BallotBox (ports/ballot_box.hpp) over the sealed_ballots,
// ballots, receipts and vote_results tables (docs/schema.md). One mix is one transaction:
//
//   BEGIN
//   pg_advisory_xact_lock(law)    mixers of one law (several aggregators) take turns, so the
//                                 count below holds until COMMIT and the hold-back rule is exact
//   stop here if the law's record is sealed (SaveRecord takes the same lock)
//   count the law's sealed ballots; stop here (ROLLBACK) if the rule does not allow a mix
//   DELETE the oldest `take` of them RETURNING the ciphertext
//   open and shuffle (the mixer, holding the ballot key)
//   INSERT ballots (law, choice) and receipts (receipt, law), each in its own shuffled order
//   UPDATE vote_results: the tally moves by the group, one group more
//   COMMIT
//
// so a crash anywhere leaves the sealed ballots where they were and writes nothing, and what the
// transaction shares with anything (xmin, WAL records, commit time) is the whole group.
//
// Thread-safety: one Mix or Counts at a time per instance (each borrows a pool connection).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "adapters/postgres/pg_pool.hpp"
#include "core/result.hpp"
#include "ports/ballot_box.hpp"
#include "ports/law_schedule.hpp"

namespace scrutin::postgres {

class PostgresBallotBox final : public ports::BallotBox {
 public:
  // REQUIRES: Migrate() and SeedTallies() have run on the pool's database.
  explicit PostgresBallotBox(PgPoolPtr pool) : pool_(std::move(pool)) {}

  core::Result<ports::MixResult> Mix(const std::string& law_id, ports::MixRule rule,
                                     const Opener& open) override;
  core::Result<ports::BoxCounts> Counts(const std::string& law_id) override;
  core::Result<std::optional<core::PublishedRecord>> FindRecord(const std::string& law_id) override;
  core::Result<ports::RecordSource> ReadRecordSource(const std::string& law_id) override;
  core::Result<std::optional<core::PublishedRecord>> SaveRecord(
      const std::string& law_id, core::Timestamp closes_at,
      const core::PublishedRecord& record) override;

 private:
  PgPoolPtr pool_;
};

// PostgresLawSchedule: the distributed shape's LawSchedule (ports/law_schedule.hpp), tables
// law_schedule and admin_audit. Set is one transaction under the law's mix lock (the one Mix and
// SaveRecord take): it refuses a law whose record is sealed, and a record being sealed at the same
// moment sees the moved close or makes the move refused, never both. Every api and aggregator
// Load()s it every half second (pipeline/law_control.hpp).
// Thread-safety: every method is (each borrows a pool connection).
class PostgresLawSchedule final : public ports::LawSchedule {
 public:
  // REQUIRES: Migrate() has run on the pool's database.
  explicit PostgresLawSchedule(PgPoolPtr pool) : pool_(std::move(pool)) {}

  core::Result<std::vector<ports::ScheduledClose>> Load() override;
  core::Status Set(const std::string& law_id, ports::AdminAction action, core::Timestamp previous,
                   core::Timestamp closes_at) override;

 private:
  PgPoolPtr pool_;
};

}  // namespace scrutin::postgres

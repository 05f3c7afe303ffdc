// SqliteBallotBox: the embedded shape's BallotBox (ports/ballot_box.hpp) on the vote writer's own
// connection, used from the writer thread between batches (serve runs the mixer's rounds there).
// A second write connection would cost far more than the mixes: each commit on one connection
// empties the other's page cache, so the writer would re-read its pages after every mix
// (bench/RESULTS.md, "sealed ballots"). One mix is one transaction (BEGIN IMMEDIATE: the count,
// the take, the writes and the delete see the same state):
//   count the law's sealed ballots; stop if the rule does not allow a mix;
//   read the oldest `take` of them; open and shuffle them (the mixer's Opener);
//   INSERT ballots (law, choice) and receipts (receipt, law), each in its own shuffled order;
//   DELETE the sealed ballots taken (secure_delete: their bytes are overwritten);
//   UPDATE vote_results by the group's counts, one group more;
//   COMMIT.
// Commits are not synced here (synchronous=NORMAL): WAL frames are appended in commit order, so
// the vote writer's next sync makes them durable; a mix lost in a crash leaves its sealed ballots
// waiting, to be mixed again.
// Threading: the recorder's (one thread, never during a Record()).
// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <optional>
#include <string>

#include "adapters/sqlite/sqlite_db.hpp"
#include "core/result.hpp"
#include "ports/ballot_box.hpp"

namespace scrutin::adapters::sqlite {

class SqliteBallotBox final : public ports::BallotBox {
 public:
  // `conn` (the recorder's) must outlive the box.
  explicit SqliteBallotBox(Connection& conn) : conn_(conn) {}
  core::Status Prepare();

  core::Result<ports::MixResult> Mix(const std::string& law_id, ports::MixRule rule,
                                     const Opener& open) override;
  core::Result<ports::BoxCounts> Counts(const std::string& law_id) override;
  core::Result<std::optional<core::PublishedRecord>> FindRecord(const std::string& law_id) override;
  core::Result<ports::RecordSource> ReadRecordSource(const std::string& law_id) override;
  core::Result<std::optional<core::PublishedRecord>> SaveRecord(
      const std::string& law_id, core::Timestamp closes_at,
      const core::PublishedRecord& record) override;

 private:
  core::Result<ports::RecordSource> ReadRecordSourceInTransaction(const std::string& law_id);

  core::Result<ports::MixResult> MixInTransaction(const std::string& law_id, ports::MixRule rule,
                                                  const Opener& open);

  Connection& conn_;
  Statement begin_, begin_read_, commit_, rollback_, count_, take_, ballot_, receipt_, delete_, tally_,
      counts_, has_record_, find_record_, save_record_, record_counts_, law_receipts_;
};

}  // namespace scrutin::adapters::sqlite

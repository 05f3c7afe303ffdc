// SqliteBallotBox: the embedded shape's BallotBox (ports/ballot_box.hpp) on a write connection of
// its own, beside the vote writer's: SQLite lets one of them write at a time (the other waits in
// the busy handler for the few hundred microseconds a mix takes). One mix is one transaction
// (BEGIN IMMEDIATE: the count, the take, the writes and the delete see the same state):
//   count the law's sealed ballots; stop if the rule does not allow a mix;
//   read the oldest `take` of them; open and shuffle them (the mixer's Opener);
//   INSERT ballots (law, choice) and receipts (receipt, law), each in its own shuffled order;
//   DELETE the sealed ballots taken (secure_delete: their bytes are overwritten);
//   UPDATE vote_results by the group's counts, one group more;
//   COMMIT.
// Commits are not synced here (synchronous=NORMAL): WAL frames are appended in commit order, so
// the vote writer's next sync makes them durable; a mix lost in a crash leaves its sealed ballots
// waiting, to be mixed again.
// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <string>

#include "adapters/sqlite/sqlite_db.hpp"
#include "core/result.hpp"
#include "ports/ballot_box.hpp"

namespace scrutin::adapters::sqlite {

class SqliteBallotBox final : public ports::BallotBox {
 public:
  explicit SqliteBallotBox(Connection conn) : conn_(std::move(conn)) {}
  core::Status Prepare();

  core::Result<std::size_t> Mix(const std::string& law_id, ports::MixRule rule,
                                const Opener& open) override;
  core::Result<ports::BoxCounts> Counts(const std::string& law_id) override;

 private:
  core::Result<std::size_t> MixInTransaction(const std::string& law_id, ports::MixRule rule,
                                             const Opener& open);

  Connection conn_;
  Statement begin_, commit_, rollback_, count_, take_, ballot_, receipt_, delete_, tally_, counts_;
};

}  // namespace scrutin::adapters::sqlite

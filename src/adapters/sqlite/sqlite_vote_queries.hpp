// SqliteVoteQueries: ports::VoteQueries over the embedded store's file, read through a pool of
// read-only connections (WAL: readers never block the writer nor each other). A request's status
// is its status row (or, for an accepted vote recorded before sealed ballots, its receipt),
// served until its law's close plus the retention.
//
// Threading: every method may be called from any thread concurrently; each call borrows an idle
// reader (opening a new one when none is idle) and returns it to the pool afterwards. Calls block
// on SQLite reads of the local file only.
// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_db.hpp"
#include "core/mutex.hpp"
#include "core/result.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::adapters::sqlite {

class SqliteVoteQueries final : public ports::VoteQueries {
 public:
  // expires_at: per law, when its request statuses stop being served (close + retention).
  SqliteVoteQueries(std::filesystem::path file, std::map<std::string, std::string> expires_at)
      : file_(std::move(file)), expires_at_(std::move(expires_at)) {}

  core::Result<std::optional<ports::StatusRecord>> FindStatus(const core::RequestId& id) override;

  core::Result<ports::Tally> FindTally(const std::string& law_id) override;
  core::Result<std::optional<std::string>> FindReceipt(const std::string& receipt) override;
  core::Result<std::optional<core::PublishedRecord>> FindRecord(
      const std::string& law_id) override;

 private:
  struct Reader {
    Connection conn;
    Statement find_status;
    Statement find_receipt;
    Statement find_tally;
    Statement find_record;
  };
  using ReaderPtr = std::unique_ptr<Reader>;

  core::Result<ReaderPtr> Acquire();

  void Release(ReaderPtr r);

  std::filesystem::path file_;
  const std::map<std::string, std::string> expires_at_;
  core::Mutex mu_;
  std::vector<ReaderPtr> idle_ GUARDED_BY(mu_);
};

}  // namespace scrutin::adapters::sqlite

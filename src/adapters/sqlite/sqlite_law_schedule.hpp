// SqliteLawSchedule: serve's LawSchedule (ports/law_schedule.hpp) in the election's SQLite file,
// tables law_schedule and admin_audit (docs/schema.md), on a write connection of its own (an admin
// action is rare: it waits for the vote writer's transaction, BEGIN IMMEDIATE, and never holds the
// lock long). The check that the law's record is not sealed and the writes are one transaction;
// the mixer's SaveRecord checks law_schedule in its own, and SQLite serialises the two.
// Thread-safety: every method is (one mutex around the connection).
// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <filesystem>

#include "adapters/sqlite/sqlite_db.hpp"
#include "core/mutex.hpp"
#include "ports/law_schedule.hpp"

namespace scrutin::adapters::sqlite {

class SqliteLawSchedule final : public ports::LawSchedule {
 public:
  static core::Result<std::unique_ptr<SqliteLawSchedule>> Open(const std::filesystem::path& file);

  core::Result<std::vector<ports::ScheduledClose>> Load() override EXCLUDES(mu_);
  core::Status Set(const std::string& law_id, ports::AdminAction action, core::Timestamp previous,
                   core::Timestamp closes_at) override EXCLUDES(mu_);

 private:
  explicit SqliteLawSchedule(Connection conn) : conn_(std::move(conn)) {}
  core::Status SetInTransaction(const std::string& law_id, ports::AdminAction action,
                                core::Timestamp previous, core::Timestamp closes_at)
      REQUIRES(mu_);

  core::Mutex mu_;
  Connection conn_ GUARDED_BY(mu_);
};

}  // namespace scrutin::adapters::sqlite

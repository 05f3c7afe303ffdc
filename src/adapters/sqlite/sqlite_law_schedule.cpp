#include "adapters/sqlite/sqlite_law_schedule.hpp"

#include <fmt/format.h>

namespace scrutin::adapters::sqlite {

core::Result<std::unique_ptr<SqliteLawSchedule>> SqliteLawSchedule::Open(
    const std::filesystem::path& file) {
  auto conn = Connection::Open(file, Connection::Mode::kReadWrite);
  if (!conn) return core::Fail(conn.code(), conn.error());
  // An admin action is synced before it is answered.
  if (auto st = conn->Exec("PRAGMA synchronous = FULL"); !st) return core::Fail(st.code(), st.error());
  return std::unique_ptr<SqliteLawSchedule>(new SqliteLawSchedule(std::move(*conn)));
}

core::Result<std::vector<ports::ScheduledClose>> SqliteLawSchedule::Load() {
  core::MutexLock lock(mu_);
  auto s = conn_.Prepare("SELECT law_id, closes_at FROM law_schedule ORDER BY law_id");
  if (!s) return core::Fail(s.code(), "cannot read the schedule: " + s.error());
  std::vector<ports::ScheduledClose> out;
  for (;;) {
    auto row = s->Step();
    if (!row) return core::Fail(row.code(), "cannot read the schedule: " + row.error());
    if (!*row) return out;
    auto at = core::ParseTimestamp(s->Text(1));
    if (!at) {
      return core::Fail(core::ErrorCode::kCorrupt,
                        fmt::format("law_schedule holds a malformed time for {}", s->Text(0)));
    }
    out.push_back({std::string(s->Text(0)), *at});
  }
}

core::Status SqliteLawSchedule::Set(const std::string& law_id, ports::AdminAction action,
                                    core::Timestamp previous, core::Timestamp closes_at) {
  core::MutexLock lock(mu_);
  if (auto st = conn_.Exec("BEGIN IMMEDIATE"); !st) {
    return core::Fail(st.code(), "cannot change the schedule: " + st.error());
  }
  auto st = SetInTransaction(law_id, action, previous, closes_at);
  if (st) st = conn_.Exec("COMMIT");
  if (!st) (void)conn_.Exec("ROLLBACK");
  return st;
}

core::Status SqliteLawSchedule::SetInTransaction(const std::string& law_id,
                                                 ports::AdminAction action,
                                                 core::Timestamp previous,
                                                 core::Timestamp closes_at) {
  auto sealed = conn_.Prepare("SELECT count(*) FROM records WHERE law_id = ?1");
  if (!sealed) return core::Fail(sealed.code(), sealed.error());
  sealed->Bind(1, law_id);
  auto row = sealed->Step();
  if (!row) return core::Fail(row.code(), row.error());
  if (*row && sealed->Int(0) > 0) {
    return core::Fail(core::ErrorCode::kRefused,
                      "the record of " + law_id + " is sealed: its close cannot move");
  }
  const std::string at = core::FormatTimestamp(closes_at);
  const std::string now = core::FormatTimestamp(core::Clock::now());
  auto set = conn_.Prepare(
      "INSERT INTO law_schedule (law_id, closes_at, changed_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (law_id) DO UPDATE SET closes_at = excluded.closes_at, "
      "changed_at = excluded.changed_at");
  if (!set) return core::Fail(set.code(), set.error());
  if (auto st = set->Bind(1, law_id).Bind(2, at).Bind(3, now).Run(); !st) return st;
  auto audit = conn_.Prepare(
      "INSERT INTO admin_audit (action, law_id, previous_closes_at, closes_at, timestamp) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!audit) return core::Fail(audit.code(), audit.error());
  return audit->Bind(1, ports::ToString(action))
      .Bind(2, law_id)
      .Bind(3, core::FormatTimestamp(previous))
      .Bind(4, at)
      .Bind(5, now)
      .Run();
}

}  // namespace scrutin::adapters::sqlite

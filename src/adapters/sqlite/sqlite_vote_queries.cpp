#include "adapters/sqlite/sqlite_vote_queries.hpp"

#include <utility>

#include "core/mutex.hpp"

namespace scrutin::adapters::sqlite {

core::Result<std::optional<ports::StatusRecord>> SqliteVoteQueries::FindStatus(
    const core::RequestId& id) {
  auto lease = Acquire();
  if (!lease) return core::Fail(lease.code(), lease.error());
  std::string now = core::FormatTimestamp(core::Clock::now());
  std::optional<ports::StatusRecord> out;
  // Every request has a status row; an accepted one recorded by a version 2 store (before sealed
  // ballots) has only its receipt, written by the upgrade.
  auto& s = (*lease)->find_status;
  s.Bind(1, core::StatusKey(id)).Bind(2, now);
  auto row = s.Step();
  if (row && *row) {
    ports::StatusRecord rec;
    rec.law_id = std::string(s.Text(0));
    rec.status = core::ParseVoteStatus(s.Text(1)).value_or(core::VoteStatus::kPending);
    rec.attempt_count = static_cast<std::uint32_t>(s.Int(2));
    out = std::move(rec);
  }
  s.Reset();
  if (row && !out) {
    auto& b = (*lease)->find_receipt;
    b.Bind(1, core::Receipt(id));
    row = b.Step();
    if (row && *row) {
      auto expires = expires_at_.find(std::string(b.Text(0)));
      if (expires != expires_at_.end() && expires->second > now) {
        out = ports::StatusRecord{expires->first, core::VoteStatus::kAccepted, 1};
      }
    }
    b.Reset();
  }
  Release(std::move(*lease));
  if (!row) return core::Fail(row.code(), row.error());
  return out;
}

core::Result<std::optional<std::string>> SqliteVoteQueries::FindReceipt(
    const std::string& receipt) {
  auto lease = Acquire();
  if (!lease) return core::Fail(lease.code(), lease.error());
  auto& s = (*lease)->find_receipt;
  s.Bind(1, receipt);
  auto row = s.Step();
  std::optional<std::string> law;
  if (row && *row) law = std::string(s.Text(0));
  s.Reset();
  Release(std::move(*lease));
  if (!row) return core::Fail(row.code(), row.error());
  return law;
}

core::Result<std::optional<core::PublishedRecord>> SqliteVoteQueries::FindRecord(
    const std::string& law_id) {
  auto lease = Acquire();
  if (!lease) return core::Fail(lease.code(), lease.error());
  auto& s = (*lease)->find_record;
  s.Bind(1, law_id);
  auto row = s.Step();
  std::optional<core::PublishedRecord> record;
  if (row && *row) record = core::PublishedRecord{std::string(s.Text(0)), std::string(s.Text(1))};
  s.Reset();
  Release(std::move(*lease));
  if (!row) return core::Fail(row.code(), row.error());
  return record;
}

core::Result<ports::Tally> SqliteVoteQueries::FindTally(const std::string& law_id) {
  auto lease = Acquire();
  if (!lease) return core::Fail(lease.code(), lease.error());
  auto& s = (*lease)->find_tally;
  s.Bind(1, law_id);
  auto row = s.Step();
  ports::Tally tally;
  tally.law_id = law_id;
  if (row && *row) {
    tally.oui = static_cast<std::uint64_t>(s.Int(0));
    tally.non = static_cast<std::uint64_t>(s.Int(1));
    tally.updated_at = core::ParseTimestamp(s.Text(2)).value_or(core::Timestamp{});
    tally.sealed = static_cast<std::uint64_t>(s.Int(3));
  }
  s.Reset();
  Release(std::move(*lease));
  if (!row) return core::Fail(row.code(), row.error());
  return tally;
}

core::Result<SqliteVoteQueries::ReaderPtr> SqliteVoteQueries::Acquire() {
  {
    core::MutexLock lock(mu_);
    if (!idle_.empty()) {
      auto r = std::move(idle_.back());
      idle_.pop_back();
      return r;
    }
  }
  auto conn = Connection::Open(file_, Connection::Mode::kReadOnly);
  if (!conn) return core::Fail(conn.code(), conn.error());
  auto status = conn->Prepare(
      "SELECT law_id, status, attempt_count FROM request_status "
      "WHERE status_key = ?1 AND expires_at > ?2");
  if (!status) return core::Fail(status.code(), status.error());
  auto receipt = conn->Prepare("SELECT law_id FROM receipts WHERE receipt = ?1");
  if (!receipt) return core::Fail(receipt.code(), receipt.error());
  auto tally = conn->Prepare(
      "SELECT oui_count, non_count, updated_at, "
      "(SELECT count(*) FROM sealed_ballots s WHERE s.law_id = r.law_id) "
      "FROM vote_results r WHERE law_id = ?1");
  if (!tally) return core::Fail(tally.code(), tally.error());
  auto record = conn->Prepare("SELECT record, receipts FROM records WHERE law_id = ?1");
  if (!record) return core::Fail(record.code(), record.error());
  return std::make_unique<Reader>(Reader{std::move(*conn), std::move(*status),
                                         std::move(*receipt), std::move(*tally),
                                         std::move(*record)});
}

void SqliteVoteQueries::Release(ReaderPtr r) {
  core::MutexLock lock(mu_);
  idle_.push_back(std::move(r));
}

}  // namespace scrutin::adapters::sqlite

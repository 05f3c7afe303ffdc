#include "adapters/sqlite/sqlite_vote_recorder.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace scrutin::adapters::sqlite {

SqliteVoteRecorder::SqliteVoteRecorder(Connection conn, const core::Ballot& ballot,
                                       std::chrono::seconds retention)
    : conn_(std::move(conn)) {
  for (const auto& law : ballot.laws()) {
    expires_at_[law.id] = core::FormatTimestamp(law.closes_at + retention);
  }
}

core::Status SqliteVoteRecorder::Prepare() {
  struct {
    Statement* stmt;
    std::string_view sql;
  } all[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&audit_,
       "INSERT INTO vote_audit (request_key, claim_tag, vote_hash, law_id, status, "
       "attempt_count, timestamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&status_,
       "INSERT INTO request_status (status_key, law_id, status, attempt_count, expires_at) "
       "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (status_key) DO NOTHING"},
      {&sealed_, "INSERT INTO sealed_ballots (law_id, sealed) VALUES (?1, ?2)"},
      {&duplicate_,
       "INSERT INTO duplicate_attempts (vote_hash, law_id, attempt_count, first_attempt, "
       "last_attempt) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (vote_hash) DO UPDATE SET "
       "attempt_count = max(attempt_count, excluded.attempt_count), "
       "last_attempt = max(last_attempt, excluded.last_attempt)"},
      {&purge_, "DELETE FROM request_status WHERE law_id = ?1"},
  };
  for (auto& s : all) {
    auto st = conn_.Prepare(s.sql);
    if (!st) return core::Fail(st.code(), st.error());
    *s.stmt = std::move(*st);
  }
  return {};
}

core::Status SqliteVoteRecorder::Record(std::span<const core::VoteEnvelope> votes,
                                        std::span<core::Decision> decisions) {
  if (auto st = begin_.Run(); !st) return st;
  auto st = RecordInTransaction(votes, decisions);
  if (st) st = commit_.Run();
  if (!st) {
    (void)rollback_.Run();  // fails harmlessly when COMMIT already rolled back
    return core::Fail(st.code(), "cannot record votes: " + st.error());
  }
  MaybePurgeExpired();
  return {};
}

core::Status SqliteVoteRecorder::Sync() {
  if (::fdatasync(wal_fd_) != 0) {
    return core::Fail(fmt::format("cannot sync the write-ahead log: {}", std::strerror(errno)));
  }
  return {};
}

core::Status SqliteVoteRecorder::OpenLog(const std::filesystem::path& wal) {
  wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
  if (wal_fd_ < 0) {
    return core::Fail(fmt::format("cannot open {}: {}", wal.string(), std::strerror(errno)));
  }
  return {};
}

SqliteVoteRecorder::~SqliteVoteRecorder() {
  if (wal_fd_ >= 0) ::close(wal_fd_);
}

core::Status SqliteVoteRecorder::RecordInTransaction(std::span<const core::VoteEnvelope> votes,
                                                     std::span<const core::Decision> decisions) {
  for (std::size_t i = 0; i < votes.size(); ++i) {
    const auto& v = votes[i];
    const auto& d = decisions[i];
    auto expires = expires_at_.find(v.law_id);
    if (expires == expires_at_.end()) {
      return core::Fail(core::ErrorCode::kRefused, "vote for a law not on the ballot");
    }
    std::string key = core::StatusKey(v.request_id);
    std::string_view status = core::ToString(d.status);
    bool accepted = d.status == core::VoteStatus::kAccepted;

    // Idempotency: a request recorded before (a redelivery) finds its status row already there
    // and changes nothing.
    status_.Bind(1, key).Bind(2, v.law_id).Bind(3, status);
    if (auto st = status_.Bind(4, std::int64_t{d.attempt_count}).Bind(5, expires->second).Run();
        !st) {
      return st;
    }
    if (conn_.Changes() == 0) continue;

    std::string hash = v.digest.ToHex();
    std::string received = core::FormatTimestamp(v.received_at);
    audit_.Bind(1, key).Bind(3, hash).Bind(4, v.law_id).Bind(5, status);
    if (accepted) audit_.Bind(2, core::ClaimTag(v.request_id));
    if (auto st = audit_.Bind(6, std::int64_t{d.attempt_count}).Bind(7, received).Run(); !st) {
      return st;
    }
    if (accepted) {
      // The ballot stays sealed: the mixer opens it later, in a group, in its own transaction.
      sealed_.Bind(1, v.law_id).BindBlob(2, v.ballot.data(), v.ballot.size());
      if (auto st = sealed_.Run(); !st) return st;
    } else if (d.status == core::VoteStatus::kDuplicate) {
      duplicate_.Bind(1, hash).Bind(2, v.law_id).Bind(3, std::int64_t{d.attempt_count});
      if (auto st = duplicate_.Bind(4, received).Run(); !st) return st;
    }
  }
  return {};
}

void SqliteVoteRecorder::MaybePurgeExpired() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_purge_ < std::chrono::minutes(1)) return;
  last_purge_ = now;
  std::string wall = core::FormatTimestamp(core::Clock::now());
  for (const auto& [law, expires] : expires_at_) {
    if (expires < wall && !purged_.contains(law) && purge_.Bind(1, law).Run()) {
      purged_.insert(law);
    }
  }
}

}  // namespace scrutin::adapters::sqlite

// SqliteVoteRecorder: ports::VoteRecorder over the embedded store's writer connection. A batch is
// recorded in one transaction (request statuses, audit rows, sealed ballots, duplicate attempts;
// no tally: the mixer moves it, docs/ballot-secrecy.md), idempotently: a request recorded before
// changes nothing. Commits are not synced
// (synchronous=NORMAL); Sync() makes every batch committed before it durable with one fdatasync
// of the write-ahead log (defers_sync() is true).
//
// Threading: Record() from one writer thread only; Sync() from one other thread (the intake's
// completion thread) concurrently with Record(): it touches only the log's file descriptor.
// Built by SqliteElectionStore::Open, which calls Prepare() and OpenLog() before handing it out.
// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "adapters/sqlite/sqlite_db.hpp"
#include "core/ballot.hpp"
#include "core/result.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::adapters::sqlite {

class SqliteVoteRecorder final : public ports::VoteRecorder {
 public:
  SqliteVoteRecorder(Connection conn, const core::Ballot& ballot, std::chrono::seconds retention);

  core::Status Prepare();

  core::Status Record(std::span<const core::VoteEnvelope> votes,
                      std::span<core::Decision> decisions) override;

  // The writer commits with synchronous=NORMAL (no fsync in COMMIT) and its WAL is synced here,
  // from the intake's completion thread, while the writer records the next batch. WAL frames are
  // appended in commit order, so one fdatasync of the log makes every earlier commit durable,
  // exactly as synchronous=FULL's fsync at each commit would; SQLite still syncs the log before
  // every checkpoint and after rewinding it, so frames never reach the database file unsynced.
  bool defers_sync() const override { return true; }
  core::Status Sync() override;

  // The writer connection, which the ballot box shares (sqlite_ballot_box.hpp).
  Connection& connection() { return conn_; }

  // REQUIRES: the log exists (the connection has read the database in WAL mode).
  core::Status OpenLog(const std::filesystem::path& wal);
  ~SqliteVoteRecorder() override;

 private:
  core::Status RecordInTransaction(std::span<const core::VoteEnvelope> votes,
                                   std::span<const core::Decision> decisions);

  // A law's request statuses all expire together (its close plus the retention): once that time
  // has passed they are deleted in one statement, checked at most once a minute, outside vote
  // transactions.
  void MaybePurgeExpired();

  Connection conn_;
  std::map<std::string, std::string> expires_at_;
  std::set<std::string> purged_;  // laws whose statuses were deleted
  std::chrono::steady_clock::time_point last_purge_ = std::chrono::steady_clock::now();
  Statement begin_, commit_, rollback_, audit_, status_, sealed_, duplicate_, purge_;
  int wal_fd_ = -1;  // the write-ahead log, for Sync()
};

}  // namespace scrutin::adapters::sqlite

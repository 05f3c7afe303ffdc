// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <thread>

#include "adapters/sqlite/sqlite_db.hpp"
#include "core/mutex.hpp"
#include "core/result.hpp"

namespace scrutin::adapters::sqlite {

// Copies committed pages from the WAL into the database file in the background, so that the vote
// writer never pays for a checkpoint on its commit path (SQLite's automatic checkpoint would run
// inside the writer's COMMIT).
//
// Only a complete checkpoint lets SQLite rewind the log, and under a steady stream of commits a
// PASSIVE one (which never blocks anyone) never quite completes. So once the log is long enough,
// the checkpointer completes one with RESTART, which holds the writer lock while it runs. Two
// things keep that hold, and the writer's own fsyncs, short (the measurements that chose them:
// bench/RESULTS.md, "the open-loop tail found and fixed"):
//  - after every PASSIVE run, writeback of the database pages it wrote is started at once
//    (sync_file_range, which does not wait), so dirty pages never pile up. Left to pile up, they
//    would be flushed in one burst by the RESTART's fsync, under the lock (tens of ms), or by an
//    fdatasync before it (slowing every commit's own fsync while it runs);
//  - before the RESTART, an fdatasync outside any lock and one more PASSIVE run leave it only the
//    last few frames and a small fsync (~6 ms).
//
// Threading: built, prepared and started by SqliteElectionStore::Open; its own thread runs the
// checkpoints on its own connection; the destructor stops and joins it, then runs a last PASSIVE
// checkpoint.
class Checkpointer {
 public:
  // REQUIRES: Prepare() succeeded before Start().
  explicit Checkpointer(Connection conn) : conn_(std::move(conn)) {}

  core::Status Prepare(const std::filesystem::path& file);
  void Start();
  ~Checkpointer();

 private:
  void Run();

  // Frames in the log after a checkpoint (0 when it failed, e.g. busy: the next period retries).
  static std::int64_t Checkpoint(Statement& s);

  // 128 MiB of 1 KiB pages, a RESTART every 3-4 s at 10k votes/s: each still holds the writer for
  // a few milliseconds, so rarer ones keep those stalls under 1% of votes (bench/RESULTS.md, "the
  // open-loop tail found and fixed"). The writer's journal_size_limit is above this so the log is
  // reused, not truncated and regrown.
  static constexpr std::int64_t kRestartFrames = 131072;
  Connection conn_;
  Statement passive_, restart_;
  int db_fd_ = -1;  // the database file, for fdatasync
  core::Mutex mu_;
  core::CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace scrutin::adapters::sqlite

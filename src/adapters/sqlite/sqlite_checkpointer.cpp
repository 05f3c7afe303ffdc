#include "adapters/sqlite/sqlite_checkpointer.hpp"

#include <fcntl.h>  // sync_file_range (Linux)
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/mutex.hpp"

namespace scrutin::adapters::sqlite {

core::Status Checkpointer::Prepare(const std::filesystem::path& file) {
  auto passive = conn_.Prepare("PRAGMA wal_checkpoint(PASSIVE)");
  if (!passive) return core::Fail(passive.code(), passive.error());
  auto restart = conn_.Prepare("PRAGMA wal_checkpoint(RESTART)");
  if (!restart) return core::Fail(restart.code(), restart.error());
  passive_ = std::move(*passive);
  restart_ = std::move(*restart);
  db_fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (db_fd_ < 0) {
    return core::Fail(fmt::format("cannot open {}: {}", file.string(), std::strerror(errno)));
  }
  return {};
}

void Checkpointer::Start() {
  thread_ = std::thread([this] { Run(); });
}

Checkpointer::~Checkpointer() {
  {
    core::MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
  (void)Checkpoint(passive_);
  if (db_fd_ >= 0) ::close(db_fd_);
}

void Checkpointer::Run() {
  for (;;) {
    {
      // The lock is held only while waiting for stop_, never during a checkpoint.
      core::MutexLock lock(mu_);
      if (cv_.WaitFor(lock, std::chrono::milliseconds(100),
                      [&]() REQUIRES(mu_) { return stop_; })) {
        return;
      }
    }
    std::int64_t frames = Checkpoint(passive_);
    // Failures of either call only mean the RESTART below pays for more of the flush itself.
    (void)::sync_file_range(db_fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
    if (frames > kRestartFrames) {
      (void)::fdatasync(db_fd_);
      (void)Checkpoint(passive_);
      (void)Checkpoint(restart_);
    }
  }
}

std::int64_t Checkpointer::Checkpoint(Statement& s) {
  auto row = s.Step();
  std::int64_t frames = row && *row ? s.Int(1) : 0;
  s.Reset();
  return frames;
}

}  // namespace scrutin::adapters::sqlite

// DataLock: an exclusive flock on <db>.lock, held for the life of the store.
//
// Threading: acquired once by SqliteElectionStore::Open; released when destroyed (or when the
// process exits). Movable, not copyable.
// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <filesystem>
#include <utility>

#include "core/result.hpp"

namespace scrutin::adapters::sqlite {

// An exclusive lock on <db>.lock, held for the life of the store: two processes deciding votes
// against one database would each accept the same credential from their own in-memory ledger.
class DataLock {
 public:
  static core::Result<DataLock> Acquire(const std::filesystem::path& db);
  DataLock(DataLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  DataLock& operator=(DataLock&&) = delete;
  ~DataLock();

 private:
  explicit DataLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace scrutin::adapters::sqlite

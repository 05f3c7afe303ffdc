#include "adapters/sqlite/sqlite_data_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace scrutin::adapters::sqlite {

core::Result<DataLock> DataLock::Acquire(const std::filesystem::path& db) {
  std::string path = db.string() + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Fail(fmt::format("cannot create lock file {}: {}", path, std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return core::Fail(
          core::ErrorCode::kRefused,
          fmt::format(
              "{} is in use by another scrutin process (it holds {}); stop it first or use another "
              "data directory",
              db.string(), path));
    }
    return core::Fail(fmt::format("cannot lock {}: {}", path, std::strerror(err)));
  }
  return DataLock(fd);
}

DataLock::~DataLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace scrutin::adapters::sqlite

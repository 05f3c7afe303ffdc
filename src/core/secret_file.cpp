#include "core/secret_file.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace scrutin::core {

Status CheckSecretFileMode(const struct stat& st, unsigned euid, const std::string& name,
                           std::string_view what) {
  const std::string kind(what);
  if (!S_ISREG(st.st_mode)) return Fail(kind + " file '" + name + "' is not a regular file");
  const unsigned mode = st.st_mode & 07777;
  // Owned by root and read by a non-root process: group read allowed (see the header).
  const bool root_granted_group = st.st_uid == 0 && euid != 0;
  const unsigned refused = root_granted_group ? (S_IWGRP | S_IXGRP | S_IRWXO) : 077u;
  if ((mode & refused) == 0) return {};
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode);
  return Fail("permissions " + std::string(octal) + " for " + kind + " file '" + name +
              "' are too open; it must be readable by its owner only (chmod 600 '" + name +
              "'), or, when root owns it, by its group too (0440)");
}

Status CheckSecretFile(int fd, const std::string& name, std::string_view what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Fail("cannot examine " + std::string(what) + " file '" + name +
                "': " + std::strerror(errno));
  }
  return CheckSecretFileMode(st, static_cast<unsigned>(::geteuid()), name, what);
}

Result<std::string> ReadSecretFile(const std::filesystem::path& path, std::string_view what,
                                   std::size_t max_bytes) {
  const std::string name = path.string();
  const std::string kind(what);
  // O_NONBLOCK: a FIFO put in the file's place must not hang start-up (CheckSecretFile refuses it).
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Fail("cannot open " + kind + " file '" + name + "': " + std::strerror(errno));
  if (Status st = CheckSecretFile(fd, name, what); !st) {
    ::close(fd);
    return Fail(st.error());
  }
  std::string text(max_bytes + 1, '\0');
  std::size_t len = 0;
  while (len < text.size()) {
    const ssize_t n = ::read(fd, text.data() + len, text.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      OPENSSL_cleanse(text.data(), text.size());
      return Fail("cannot read " + kind + " file '" + name + "': " + std::strerror(err));
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (len > max_bytes) {
    OPENSSL_cleanse(text.data(), text.size());
    return Fail(kind + " file '" + name + "' is longer than " + std::to_string(max_bytes) +
                " bytes");
  }
  text.resize(len);
  return text;
}

}  // namespace scrutin::core

// `scrutin keygen --out FILE`: a fresh election key for the hmac-sha256 scheme.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "apps/commands.hpp"
#include "core/credential.hpp"
#include "core/digest.hpp"

namespace scrutin::apps {
namespace {

void RunKeygen(const std::string& out) {
  std::uint8_t key[core::kElectionKeySize];
  if (RAND_bytes(key, sizeof key) != 1) {
    throw CommandError("the system's random generator failed; no key written");
  }
  std::string text = core::HexEncode(key, sizeof key) + "\n";
  OPENSSL_cleanse(key, sizeof key);
  struct Wiper {
    std::string& s;
    ~Wiper() { OPENSSL_cleanse(s.data(), s.size()); }
  } wiper{text};

  // O_EXCL: never replace an existing key, which would orphan every digest built with it.
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      throw CommandError("'" + out + "' already exists; refusing to overwrite an election key " +
                         "(digests made with it would no longer match)");
    }
    throw CommandError("cannot create key file '" + out + "': " + std::strerror(errno));
  }
  auto fail = [&](const char* what) {
    std::string err = std::string(what) + " key file '" + out + "': " + std::strerror(errno);
    ::close(fd);
    ::unlink(out.c_str());
    throw CommandError(err);
  };
  // The umask can only remove bits from 0600; set it explicitly all the same.
  if (::fchmod(fd, 0600) != 0) fail("cannot set the mode of");
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write");
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot sync");
  if (::close(fd) != 0) {
    std::string err = "cannot close key file '" + out + "': " + std::strerror(errno);
    ::unlink(out.c_str());
    throw CommandError(err);
  }
  std::printf(
      "keygen: wrote a new 32-byte election key to %s (mode 0600); keep it secret and "
      "give it only to hashgen and the API\n",
      out.c_str());
}

}  // namespace

void AddKeygenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "keygen", "Write a fresh 32-byte election key (64 hex characters, mode 0600)");
  auto out = std::make_shared<std::string>();
  cmd->add_option("--out", *out, "Key file to create (never overwritten)")->required();
  cmd->callback([out] { RunKeygen(*out); });
}

}  // namespace scrutin::apps

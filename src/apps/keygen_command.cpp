// `scrutin keygen --out FILE`: a fresh election key for the hmac-sha256 scheme.
// `scrutin keygen --ballot-key --out FILE`: a fresh ballot key, which seals each vote at the api
// and opens it in the mixer (docs/ballot-secrecy.md). Same format: 32 random bytes as 64 hex
// characters and a newline, mode 0600, never overwritten.
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

void RunKeygen(const std::string& out, bool ballot_key) {
  const std::string kind = ballot_key ? "ballot key" : "election key";
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
      throw CommandError("'" + out + "' already exists; refusing to overwrite " +
                         (ballot_key ? std::string("a ballot key (ballots sealed with it would no "
                                                   "longer open)")
                                     : std::string("an election key (digests made with it would "
                                                   "no longer match)")));
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
  std::printf("keygen: wrote a new 32-byte %s to %s (mode 0600); keep it secret and give it only "
              "to %s\n",
              kind.c_str(), out.c_str(),
              ballot_key ? "the API (or serve) and the aggregators, never beside the vote store"
                         : "hashgen and the API");
}

}  // namespace

void AddKeygenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "keygen", "Write a fresh 32-byte election key (64 hex characters, mode 0600)");
  auto out = std::make_shared<std::string>();
  auto ballot_key = std::make_shared<bool>(false);
  cmd->add_option("--out", *out, "Key file to create (never overwritten)")->required();
  cmd->add_flag("--ballot-key", *ballot_key,
                "Write a ballot key (seals votes at the API, opened by the mixer) instead of an "
                "election key");
  cmd->callback([out, ballot_key] { RunKeygen(*out, *ballot_key); });
}

}  // namespace scrutin::apps

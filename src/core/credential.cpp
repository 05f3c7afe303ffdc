#include "core/credential.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/digest.hpp"

namespace scrutin::core {
namespace {

constexpr std::size_t kBlockSize = 64;  // SHA-256 block

// A SHA-256 context that has already absorbed exactly one block whose chaining state is `state`.
void ResumeAfterOneBlock(SHA256_CTX& ctx, const std::uint32_t (&state)[8]) {
  SHA256_Init(&ctx);
  std::memcpy(ctx.h, state, sizeof state);
  ctx.Nl = kBlockSize * 8;  // bits absorbed so far
  ctx.Nh = 0;
  ctx.num = 0;
}

// Chaining state after absorbing one block of (key ^ pad).
void AbsorbPaddedKey(std::span<const std::uint8_t> key, std::uint8_t pad, std::uint32_t (&out)[8]) {
  std::uint8_t block[kBlockSize];
  std::memset(block, pad, sizeof block);
  for (std::size_t i = 0; i < key.size(); ++i) block[i] ^= key[i];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, block, sizeof block);  // exactly one compression, nothing left buffered
  std::memcpy(out, ctx.h, sizeof out);
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(&ctx, sizeof ctx);
}

}  // namespace

std::string_view ToString(HashScheme s) {
  return s == HashScheme::kHmacSha256 ? "hmac-sha256" : "sha256";
}

std::optional<HashScheme> ParseHashScheme(std::string_view s) {
  if (s == "hmac-sha256") return HashScheme::kHmacSha256;
  if (s == "sha256") return HashScheme::kSha256;
  return std::nullopt;
}

Result<std::vector<std::uint8_t>> LoadElectionKey(const std::filesystem::path& path) {
  const std::string name = path.string();
  int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Fail("cannot open election key file '" + name + "': " + std::strerror(errno));
  }
  // Read at most a little more than a valid key: anything longer is refused without being read.
  char buf[2 * kElectionKeySize + 8];
  std::size_t len = 0;
  while (len < sizeof buf) {
    ssize_t n = ::read(fd, buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Fail("cannot read election key file '" + name + "': " + std::strerror(err));
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  ::close(fd);
  std::string_view text(buf, len);
  if (text.ends_with("\r\n")) {
    text.remove_suffix(2);
  } else if (text.ends_with('\n')) {
    text.remove_suffix(1);
  }
  std::vector<std::uint8_t> key(kElectionKeySize);
  bool ok = HexDecode(text, key.data(), key.size());
  OPENSSL_cleanse(buf, sizeof buf);
  if (!ok) {
    OPENSSL_cleanse(key.data(), key.size());
    return Fail("election key file '" + name +
                "' is not a key written by `scrutin keygen` (expected exactly 64 hex characters "
                "and a newline)");
  }
  return key;
}

Result<CredentialHasher> CredentialHasher::Create(HashScheme scheme,
                                                  std::span<const std::uint8_t> key) {
  CredentialHasher h;
  h.scheme_ = scheme;
  if (scheme == HashScheme::kSha256) return h;
  if (key.size() != kElectionKeySize) {
    return Fail("the hmac-sha256 scheme needs a " + std::to_string(kElectionKeySize) +
                "-byte election key, got " + std::to_string(key.size()) + " bytes");
  }
  AbsorbPaddedKey(key, 0x36, h.inner_);
  AbsorbPaddedKey(key, 0x5c, h.outer_);
  return h;
}

Digest CredentialHasher::Hash(std::string_view nas, std::string_view code,
                              std::string_view law_id) const {
  // The message is short (26 bytes for normalised input): assemble it on the stack so that the
  // hash sees one update, and wipe it afterwards since it holds the credential.
  char buf[128];
  const std::size_t size = nas.size() + code.size() + law_id.size() + 2;
  if (size > sizeof buf) {
    std::string message;
    message.reserve(size);
    message.append(nas).append(1, '|').append(code).append(1, '|').append(law_id);
    Digest d = HashMessage(message);
    OPENSSL_cleanse(message.data(), message.size());
    return d;
  }
  char* p = buf;
  std::memcpy(p, nas.data(), nas.size());
  p += nas.size();
  *p++ = '|';
  std::memcpy(p, code.data(), code.size());
  p += code.size();
  *p++ = '|';
  std::memcpy(p, law_id.data(), law_id.size());
  Digest d = HashMessage(std::string_view(buf, size));
  OPENSSL_cleanse(buf, size);
  return d;
}

Digest CredentialHasher::HashMessage(std::string_view message) const {
  Digest d;
  SHA256_CTX ctx;
  if (scheme_ == HashScheme::kSha256) {
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, message.data(), message.size());
    SHA256_Final(d.bytes.data(), &ctx);  // SHA256_Final wipes the buffered block
    return d;
  }
  // HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), resuming from the precomputed states.
  std::uint8_t inner[SHA256_DIGEST_LENGTH];
  ResumeAfterOneBlock(ctx, inner_);
  SHA256_Update(&ctx, message.data(), message.size());
  SHA256_Final(inner, &ctx);
  ResumeAfterOneBlock(ctx, outer_);
  SHA256_Update(&ctx, inner, sizeof inner);
  SHA256_Final(d.bytes.data(), &ctx);
  return d;
}

}  // namespace scrutin::core

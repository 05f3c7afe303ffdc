#include "core/credential.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/digest.hpp"
#include "core/secret_file.hpp"

namespace scrutin::core {
namespace {

constexpr std::size_t kBlockSize = 64;  // SHA-256 block

// A SHA-256 context that has already absorbed exactly one block whose chaining state is `state`.
void ResumeAfterOneBlock(SHA256_CTX& ctx, const std::uint32_t* state) {
  SHA256_Init(&ctx);
  std::memcpy(ctx.h, state, sizeof ctx.h);
  ctx.Nl = kBlockSize * 8;  // bits absorbed so far
  ctx.Nh = 0;
  ctx.num = 0;
}

// Chaining state after absorbing one block of (key ^ pad).
void AbsorbPaddedKey(std::span<const std::uint8_t> key, std::uint8_t pad, std::uint32_t* out) {
  std::uint8_t block[kBlockSize];
  std::memset(block, pad, sizeof block);
  for (std::size_t i = 0; i < key.size(); ++i) block[i] ^= key[i];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, block, sizeof block);  // exactly one compression, nothing left buffered
  std::memcpy(out, ctx.h, sizeof ctx.h);
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

Result<SecureBuffer> LoadElectionKeySecure(const std::filesystem::path& path) {
  return LoadSecretKey(path, "election key");
}

Result<SecureBuffer> LoadSecretKey(const std::filesystem::path& path, std::string_view kind) {
  const std::string name = path.string();
  const std::string what(kind);
  // O_NONBLOCK: a FIFO put in the key's place must not hang start-up (CheckSecretFile refuses it).
  int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return Fail("cannot open " + what + " file '" + name + "': " + std::strerror(errno));
  }
  if (Status st = CheckSecretFile(fd, name, what); !st) {
    ::close(fd);
    return Fail(st.error());
  }
  auto key = SecureBuffer::Allocate(kElectionKeySize);
  if (!key) {
    ::close(fd);
    return Fail(key.error());
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
      OPENSSL_cleanse(buf, sizeof buf);
      return Fail("cannot read " + what + " file '" + name + "': " + std::strerror(err));
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
  bool ok = HexDecode(text, key->data(), key->size());
  OPENSSL_cleanse(buf, sizeof buf);
  if (!ok) {
    return Fail(what + " file '" + name +
                "' is not a key written by `scrutin keygen` (expected exactly 64 hex characters "
                "and a newline)");
  }
  return key;
}

Result<std::vector<std::uint8_t>> LoadElectionKey(const std::filesystem::path& path) {
  auto key = LoadElectionKeySecure(path);
  if (!key) return Fail(key.error());
  return std::vector<std::uint8_t>(key->data(), key->data() + key->size());
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
  auto secret = SecureBuffer::Allocate(16 * sizeof(std::uint32_t));
  if (!secret) return Fail(secret.error());
  auto* states = reinterpret_cast<std::uint32_t*>(secret->data());  // page-aligned
  AbsorbPaddedKey(key, 0x36, states);
  AbsorbPaddedKey(key, 0x5c, states + 8);
  h.secret_ = std::make_shared<const SecureBuffer>(std::move(secret).value());
  h.states_ = states;
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
  ResumeAfterOneBlock(ctx, states_);
  SHA256_Update(&ctx, message.data(), message.size());
  SHA256_Final(inner, &ctx);
  ResumeAfterOneBlock(ctx, states_ + 8);
  SHA256_Update(&ctx, inner, sizeof inner);
  SHA256_Final(d.bytes.data(), &ctx);
  return d;
}

}  // namespace scrutin::core

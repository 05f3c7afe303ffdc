#include "core/sealed_ballot.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

namespace scrutin::core {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;
constexpr std::size_t kPlainSize = 1 + kReceiptChars;
constexpr std::string_view kAadPrefix = "scrutin/ballot/v1/";

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

// The associated data: the format's name and the law, so a ballot opens only for its own law.
bool AddAad(EVP_CIPHER_CTX* ctx, std::string_view law_id, bool encrypt) {
  std::string aad(kAadPrefix);
  aad.append(law_id);
  int len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(aad.data());
  const int size = static_cast<int>(aad.size());
  return encrypt ? EVP_EncryptUpdate(ctx, nullptr, &len, data, size) == 1
                 : EVP_DecryptUpdate(ctx, nullptr, &len, data, size) == 1;
}

}  // namespace

Result<BallotSealer> BallotSealer::Create(std::span<const std::uint8_t> key) {
  if (key.size() != kBallotKeySize) {
    return Fail(ErrorCode::kRefused, "a ballot key is " + std::to_string(kBallotKeySize) +
                                         " bytes, got " + std::to_string(key.size()));
  }
  auto buffer = SecureBuffer::Allocate(kBallotKeySize);
  if (!buffer) return Fail(buffer.code(), buffer.error());
  std::memcpy(buffer->data(), key.data(), kBallotKeySize);
  return BallotSealer(std::make_shared<const SecureBuffer>(std::move(*buffer)));
}

Result<SealedBallot> BallotSealer::Seal(std::string_view law_id, Choice choice,
                                        std::string_view receipt) const {
  if (receipt.size() != kReceiptChars) {
    return Fail(ErrorCode::kRefused, "a receipt is " + std::to_string(kReceiptChars) +
                                         " characters, got " + std::to_string(receipt.size()));
  }
  SealedBallot out{};
  out[0] = kVersion;
  std::uint8_t* nonce = out.data() + 1;
  std::uint8_t* cipher = nonce + kNonceSize;
  std::uint8_t* tag = cipher + kPlainSize;
  if (RAND_bytes(nonce, kNonceSize) != 1) return Fail(std::string("no random bytes for a nonce"));
  std::array<std::uint8_t, kPlainSize> plain{};
  plain[0] = choice == Choice::kOui ? 0 : 1;
  std::copy(receipt.begin(), receipt.end(), plain.begin() + 1);
  CipherCtx c;
  int len = 0, final_len = 0;
  const bool ok =
      c.ctx != nullptr &&
      EVP_EncryptInit_ex(c.ctx, EVP_chacha20_poly1305(), nullptr, key_->data(), nonce) == 1 &&
      AddAad(c.ctx, law_id, /*encrypt=*/true) &&
      EVP_EncryptUpdate(c.ctx, cipher, &len, plain.data(), static_cast<int>(plain.size())) == 1 &&
      EVP_EncryptFinal_ex(c.ctx, cipher + len, &final_len) == 1 &&
      static_cast<std::size_t>(len + final_len) == kPlainSize &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), tag) == 1;
  OPENSSL_cleanse(plain.data(), plain.size());
  if (!ok) return Fail(std::string("OpenSSL could not seal the ballot"));
  return out;
}

Result<OpenedBallot> BallotSealer::Open(std::string_view law_id,
                                        std::span<const std::uint8_t> sealed) const {
  if (sealed.size() != kSealedBallotSize || sealed[0] != kVersion) {
    return Fail(ErrorCode::kCorrupt, std::string("not a sealed ballot of this format"));
  }
  const std::uint8_t* nonce = sealed.data() + 1;
  const std::uint8_t* cipher = nonce + kNonceSize;
  std::array<std::uint8_t, kTagSize> tag{};
  std::copy_n(cipher + kPlainSize, kTagSize, tag.begin());
  std::array<std::uint8_t, kPlainSize> plain{};
  CipherCtx c;
  int len = 0, final_len = 0;
  const bool ok =
      c.ctx != nullptr &&
      EVP_DecryptInit_ex(c.ctx, EVP_chacha20_poly1305(), nullptr, key_->data(), nonce) == 1 &&
      AddAad(c.ctx, law_id, /*encrypt=*/false) &&
      EVP_DecryptUpdate(c.ctx, plain.data(), &len, cipher, static_cast<int>(kPlainSize)) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), tag.data()) ==
          1 &&
      EVP_DecryptFinal_ex(c.ctx, plain.data() + len, &final_len) == 1 &&
      static_cast<std::size_t>(len + final_len) == kPlainSize && plain[0] <= 1;
  if (!ok) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return Fail(
        ErrorCode::kCorrupt,
        std::string("the sealed ballot does not open: tampered, another key or another law"));
  }
  OpenedBallot out;
  out.choice = plain[0] == 0 ? Choice::kOui : Choice::kNon;
  out.receipt.assign(reinterpret_cast<const char*>(plain.data() + 1), kReceiptChars);
  OPENSSL_cleanse(plain.data(), plain.size());
  return out;
}

std::optional<std::uint64_t> SecureUniform(std::uint64_t bound) {
  if (bound <= 1) return 0;
  // The largest multiple of bound that fits: draws at or above it are redrawn (modulo bias).
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  for (;;) {
    std::uint64_t draw = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&draw), sizeof draw) != 1) return std::nullopt;
    if (draw < limit) return draw % bound;
  }
}

}  // namespace scrutin::core

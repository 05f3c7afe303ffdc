// Sealed ballots (docs/ballot-secrecy.md): a vote's (law, choice, receipt) encrypted with the
// election's ballot key as soon as the api has parsed it, so that everything downstream (broker
// messages, the validator, Redis, the durable record written with the credential's claim) holds
// ciphertext; only the mixer, which opens ballots in shuffled groups, sees choices again.
//
// ChaCha20-Poly1305 (OpenSSL EVP, an AEAD: any change to a sealed ballot makes Open fail) with a
// random 96-bit nonce per ballot and the law id as associated data (a ballot sealed for one law
// does not open as another's). Every sealed ballot has the same size, whatever it holds:
//   version (1) | nonce (12) | ciphertext of choice (1) and receipt (19) | tag (16)   = 49 bytes
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.hpp"
#include "core/secure_memory.hpp"
#include "core/vote.hpp"

namespace scrutin::core {

inline constexpr std::size_t kBallotKeySize = 32;
// Receipt(id) (core/request_id.hpp): "XXXX-XXXX-XXXX-XXXX".
inline constexpr std::size_t kReceiptChars = 19;
static_assert(kSealedBallotSize == 1 + 12 + 1 + kReceiptChars + 16);

struct OpenedBallot {
  Choice choice = Choice::kOui;
  std::string receipt;
};

// Seals and opens ballots with one key. Copies share the key (kept in a SecureBuffer: out of core
// dumps, wiped on release). Seal and Open are const and thread-safe.
class BallotSealer {
 public:
  // REQUIRES: key.size() == kBallotKeySize (an error otherwise; no key material in it).
  static Result<BallotSealer> Create(std::span<const std::uint8_t> key);

  // Error (kRefused) when `receipt` is not kReceiptChars long; kUnknown when OpenSSL fails.
  Result<SealedBallot> Seal(std::string_view law_id, Choice choice, std::string_view receipt) const;

  // kCorrupt when `sealed` is not a ballot of this format sealed with this key for `law_id`
  // (wrong size or version, tampered, another key, another law).
  Result<OpenedBallot> Open(std::string_view law_id, std::span<const std::uint8_t> sealed) const;

 private:
  explicit BallotSealer(std::shared_ptr<const SecureBuffer> key) : key_(std::move(key)) {}
  std::shared_ptr<const SecureBuffer> key_;
};

// Puts items[0..n) in a uniformly random order drawn from OpenSSL's CSPRNG (Fisher-Yates with
// rejection sampling, so no index is favoured): what the mixer shuffles a group with, where a
// predictable order (std::mt19937 seeded from a clock) would let a store reader undo the shuffle.
// Returns false, with items unchanged past the point reached, only when OpenSSL has no randomness.
template <typename T>
bool SecureShuffle(std::span<T> items);

// A uniform integer in [0, bound), bound >= 1; nullopt when OpenSSL has no randomness.
std::optional<std::uint64_t> SecureUniform(std::uint64_t bound);

template <typename T>
bool SecureShuffle(std::span<T> items) {
  for (std::size_t i = items.size(); i > 1; --i) {
    auto j = SecureUniform(i);
    if (!j) return false;
    std::swap(items[i - 1], items[*j]);
  }
  return true;
}

}  // namespace scrutin::core

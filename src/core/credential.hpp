// The credential digest: what the offline phase computes for every registry row and the online
// phase recomputes from what the voter types.
// docs/architecture.md "The credential and its digest".
//
//   hmac-sha256 (default): HMAC-SHA256(election_key, nas "|" code "|" law_id)
//   sha256 (original design): SHA-256(nas "|" code "|" law_id)
//
// Inputs are the normalised forms (see normalise.hpp): 9 NAS digits, upper-case code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "core/secure_memory.hpp"

namespace scrutin::core {

enum class HashScheme : std::uint8_t { kHmacSha256, kSha256 };

// "hmac-sha256" / "sha256".
std::string_view ToString(HashScheme s);
std::optional<HashScheme> ParseHashScheme(std::string_view s);

// Election keys are 32 random bytes, stored as 64 lowercase hex characters and a newline.
inline constexpr std::size_t kElectionKeySize = 32;

// Reads a key file written by `scrutin keygen` into memory kept out of core dumps (SecureBuffer,
// kElectionKeySize bytes). Error (one sentence naming the file, no key material) when the file is
// missing, unreadable, not a regular file, open to its group or others beyond what
// core::CheckSecretFileMode allows (core/secret_file.hpp: "permissions 0644 for ... are too open",
// with the chmod that fixes it), or not exactly 64 hex characters (a trailing newline allowed).
Result<SecureBuffer> LoadElectionKeySecure(const std::filesystem::path& path);

// The same checks and format for another 32-byte secret written by `scrutin keygen` (the ballot
// key, docs/ballot-secrecy.md); `kind` names it in errors ("ballot key").
Result<SecureBuffer> LoadSecretKey(const std::filesystem::path& path, std::string_view kind);

// The same checks, the key copied into a plain vector: for a caller that hands it to
// CredentialHasher::Create at once and wipes it (the hasher keeps its own protected copy).
Result<std::vector<std::uint8_t>> LoadElectionKey(const std::filesystem::path& path);

// Computes credential digests. Immutable after creation; Hash() is const and thread-safe; copies
// share the same key states. The HMAC inner/outer states are precomputed once, so one digest costs
// two SHA-256 blocks; they are key material, so they live in a SecureBuffer (out of core dumps,
// locked in RAM when allowed, wiped when the last copy of the hasher goes).
class CredentialHasher {
 public:
  // kHmacSha256 REQUIRES a key of kElectionKeySize bytes (error otherwise); kSha256 ignores it.
  static Result<CredentialHasher> Create(HashScheme scheme, std::span<const std::uint8_t> key);

  // REQUIRES: normalised inputs.
  Digest Hash(std::string_view nas, std::string_view code, std::string_view law_id) const;
  // The same digest over an already assembled message "nas|code|law_id".
  Digest HashMessage(std::string_view message) const;

  HashScheme scheme() const { return scheme_; }

 private:
  CredentialHasher() = default;
  HashScheme scheme_ = HashScheme::kSha256;
  // hmac-sha256 only: the SHA-256 chaining states after absorbing (key ^ ipad), words 0-7, and
  // (key ^ opad), words 8-15; `states_` points into `secret_`.
  std::shared_ptr<const SecureBuffer> secret_;
  const std::uint32_t* states_ = nullptr;
};

}  // namespace scrutin::core

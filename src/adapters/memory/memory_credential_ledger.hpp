// MemoryCredentialLedger: the embedded shape's ledger, entirely in process memory.
//
// Eligible digests are held in one sorted array with a 2^20-bucket index on their leading bits, so
// a lookup touches the index and a handful of neighbouring digests. Per digest it keeps a 64-bit
// claim tag (0 = unclaimed): 32 + 8 bytes a voter, plus 4 MiB of index. Attempt counts beyond the
// first are kept only for credentials that have been tried again (rare).
//
// The embedded shape decides each request exactly once (no queue, no redelivery), so this ledger
// does not remember which request made which duplicate attempt: deciding the same duplicate
// request twice counts two attempts (RedisCredentialLedger remembers them).
//
// The ledger is not durable: the embedded shape restores it at start-up from the SQLite store
// (RestoreClaim / RestoreAttempts) and reverts a batch whose commit failed (Revert).
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/digest.hpp"
#include "ports/credential_ledger.hpp"

namespace scrutin::adapters::memory {

class MemoryCredentialLedger final : public ports::RevertibleCredentialLedger {
 public:
  // Takes the eligibility database's digests (any order; duplicates are dropped).
  explicit MemoryCredentialLedger(std::vector<core::Digest> eligible);

  // Thread-safety: ClaimBatch, Revert and Restore* must be called from one thread at a time
  // (the embedded writer); the const accessors may be called concurrently with nothing else.
  // Never blocks, never fails (ClaimBatch and Revert always return success).
  core::Status ClaimBatch(std::span<const ports::ClaimRequest> in,
                          std::span<ports::ClaimOutcome> out) override;
  core::Status Revert(std::span<const ports::ClaimRequest> in,
                      std::span<const ports::ClaimOutcome> out) override;

  // Start-up recovery. Error when the digest is not eligible (the data directory was recorded
  // against another eligibility database) or, for RestoreClaim, already claimed.
  core::Status RestoreClaim(const core::Digest& digest, std::string_view claim_tag_hex);
  core::Status RestoreAttempts(const core::Digest& digest, std::uint32_t attempt_count);

  std::size_t eligible_count() const { return digests_.size(); }
  std::size_t claimed_count() const { return claimed_; }
  // Bytes held for the eligibility table and claims (not counting the rare attempt map).
  std::size_t memory_bytes() const;

 private:
  static constexpr int kIndexBits = 20;

  // Position of `d` in digests_, or -1.
  std::int64_t Find(const core::Digest& d) const;
  static std::uint64_t TagOf(std::string_view claim_tag_hex);

  std::vector<core::Digest> digests_;  // sorted, unique
  std::vector<std::uint32_t> index_;   // bucket b spans digests_[index_[b], index_[b+1])
  std::vector<std::uint64_t> tags_;    // parallel to digests_; 0 = unclaimed
  std::unordered_map<std::uint32_t, std::uint32_t> attempts_;  // position -> attempts (>= 2)
  std::size_t claimed_ = 0;
};

}  // namespace scrutin::adapters::memory

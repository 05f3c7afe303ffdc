#include "adapters/memory/memory_credential_ledger.hpp"

#include <algorithm>
#include <cassert>

namespace scrutin::adapters::memory {

using Kind = ports::ClaimOutcome::Kind;

MemoryCredentialLedger::MemoryCredentialLedger(std::vector<core::Digest> eligible)
    : digests_(std::move(eligible)) {
  if (!std::is_sorted(digests_.begin(), digests_.end())) {
    std::sort(digests_.begin(), digests_.end());
  }
  digests_.erase(std::unique(digests_.begin(), digests_.end()), digests_.end());
  digests_.shrink_to_fit();
  tags_.assign(digests_.size(), 0);

  // index_[b] = first position whose leading kIndexBits bits are >= b.
  index_.assign((std::size_t{1} << kIndexBits) + 1, 0);
  std::size_t pos = 0;
  for (std::size_t b = 0; b < (std::size_t{1} << kIndexBits); ++b) {
    while (pos < digests_.size() && (digests_[pos].Prefix64() >> (64 - kIndexBits)) < b) ++pos;
    index_[b] = static_cast<std::uint32_t>(pos);
  }
  index_.back() = static_cast<std::uint32_t>(digests_.size());
}

std::int64_t MemoryCredentialLedger::Find(const core::Digest& d) const {
  std::size_t b = d.Prefix64() >> (64 - kIndexBits);
  auto first = digests_.begin() + index_[b];
  auto last = digests_.begin() + index_[b + 1];
  auto it = std::lower_bound(first, last, d);
  if (it == last || *it != d) return -1;
  return it - digests_.begin();
}

std::uint64_t MemoryCredentialLedger::TagOf(std::string_view claim_tag_hex) {
  // The first 64 bits of the claim tag identify the claiming request: a collision between two
  // requests for the same credential has probability 2^-64. 0 is reserved for "unclaimed".
  std::uint8_t raw[8] = {};
  core::HexDecode(claim_tag_hex.substr(0, 16), raw, sizeof raw);
  std::uint64_t v = 0;
  for (auto byte : raw) v = (v << 8) | byte;
  return v == 0 ? 1 : v;
}

core::Status MemoryCredentialLedger::ClaimBatch(std::span<const ports::ClaimRequest> in,
                                                std::span<ports::ClaimOutcome> out) {
  assert(in.size() == out.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::int64_t pos = Find(in[i].digest);
    auto& o = out[i];
    if (pos < 0) {
      o = {Kind::kIneligible, 1};
      continue;
    }
    std::uint64_t tag = TagOf(in[i].claim_tag);
    std::uint64_t& held = tags_[pos];
    auto key = static_cast<std::uint32_t>(pos);
    if (held == 0) {
      held = tag;
      ++claimed_;
      o = {Kind::kClaimed, 1};
    } else if (held == tag) {
      auto it = attempts_.find(key);
      o = {Kind::kReplayed, it == attempts_.end() ? 1u : it->second};
    } else {
      auto [it, inserted] = attempts_.try_emplace(key, 1u);
      o = {Kind::kAlreadyClaimed, ++it->second};
    }
  }
  return {};
}

core::Status MemoryCredentialLedger::Revert(std::span<const ports::ClaimRequest> in,
                                            std::span<const ports::ClaimOutcome> out) {
  assert(in.size() == out.size());
  // Undo in reverse order so that a batch holding a claim and its duplicates unwinds exactly.
  for (std::size_t i = in.size(); i-- > 0;) {
    std::int64_t pos = Find(in[i].digest);
    if (pos < 0) continue;
    auto key = static_cast<std::uint32_t>(pos);
    switch (out[i].kind) {
      case Kind::kClaimed:
        tags_[pos] = 0;
        --claimed_;
        break;
      case Kind::kAlreadyClaimed: {
        auto it = attempts_.find(key);
        if (it != attempts_.end() && --it->second <= 1) attempts_.erase(it);
        break;
      }
      case Kind::kReplayed:
      case Kind::kIneligible:
        break;
    }
  }
  return {};
}

core::Status MemoryCredentialLedger::RestoreClaim(const core::Digest& digest,
                                                  std::string_view claim_tag_hex) {
  std::int64_t pos = Find(digest);
  if (pos < 0) {
    return core::Fail(std::string(
        "a recorded vote's credential is not in the eligibility database: the data directory was "
        "recorded against a different hash database"));
  }
  if (tags_[pos] != 0) return core::Fail(std::string("a credential is recorded as accepted twice"));
  tags_[pos] = TagOf(claim_tag_hex);
  ++claimed_;
  return {};
}

core::Status MemoryCredentialLedger::RestoreAttempts(const core::Digest& digest,
                                                     std::uint32_t attempt_count) {
  std::int64_t pos = Find(digest);
  if (pos < 0) {
    return core::Fail(std::string(
        "a recorded duplicate's credential is not in the eligibility database: the data directory "
        "was recorded against a different hash database"));
  }
  if (attempt_count >= 2) attempts_[static_cast<std::uint32_t>(pos)] = attempt_count;
  return {};
}

std::size_t MemoryCredentialLedger::memory_bytes() const {
  return digests_.capacity() * sizeof(core::Digest) + tags_.capacity() * sizeof(std::uint64_t) +
         index_.capacity() * sizeof(std::uint32_t);
}

}  // namespace scrutin::adapters::memory

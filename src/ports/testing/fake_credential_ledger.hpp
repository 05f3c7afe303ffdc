// FakeCredentialLedger: an in-memory CredentialLedger for tests of code written over the port
// (pipeline, http), in place of a hand-written ledger per test file. It keeps claim tags, so a
// redelivered request is kReplayed as with Redis, and it can revert as the memory ledger does. It
// passes CredentialLedgerContract and RevertibleCredentialLedgerContract (pipeline_test runs them).
//
// Eligibility: the digests given to the constructor, or, by default, every digest whose first byte
// is non-zero (so a test makes an ineligible vote with a zero first byte).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/digest.hpp"
#include "ports/credential_ledger.hpp"

namespace scrutin::ports::testing {

class FakeCredentialLedger final : public RevertibleCredentialLedger {
 public:
  FakeCredentialLedger() = default;
  explicit FakeCredentialLedger(const std::vector<core::Digest>& eligible)
      : eligible_(std::set<std::string>()) {
    for (const auto& d : eligible) eligible_->insert(d.ToHex());
  }

  // Not thread-safe: one caller at a time, as the embedded writer.
  core::Status ClaimBatch(std::span<const ClaimRequest> in, std::span<ClaimOutcome> out) override {
    if (fail) return core::Fail(fail_code, std::string("ledger down"));
    for (std::size_t i = 0; i < in.size(); ++i) {
      auto key = in[i].digest.ToHex();
      if (!Eligible(in[i].digest, key)) {
        out[i] = {ClaimOutcome::Kind::kIneligible, 1};
      } else if (auto it = claims.find(key); it == claims.end()) {
        claims[key] = {in[i].claim_tag, 1};
        out[i] = {ClaimOutcome::Kind::kClaimed, 1};
      } else if (it->second.first == in[i].claim_tag) {
        out[i] = {ClaimOutcome::Kind::kReplayed, it->second.second};
      } else {
        out[i] = {ClaimOutcome::Kind::kAlreadyClaimed, ++it->second.second};
      }
    }
    return {};
  }

  core::Status Revert(std::span<const ClaimRequest> in,
                      std::span<const ClaimOutcome> out) override {
    for (std::size_t i = in.size(); i-- > 0;) {
      auto key = in[i].digest.ToHex();
      if (out[i].kind == ClaimOutcome::Kind::kClaimed) claims.erase(key);
      if (out[i].kind == ClaimOutcome::Kind::kAlreadyClaimed) --claims[key].second;
    }
    return {};
  }

  bool fail = false;  // ClaimBatch answers fail_code "ledger down"
  core::ErrorCode fail_code = core::ErrorCode::kUnavailable;
  // digest (hex) -> (claim tag, attempts so far)
  std::map<std::string, std::pair<std::string, std::uint32_t>> claims;

 private:
  bool Eligible(const core::Digest& d, const std::string& key) const {
    return eligible_ ? eligible_->contains(key) : d.bytes[0] != 0;
  }

  std::optional<std::set<std::string>> eligible_;
};

}  // namespace scrutin::ports::testing

#include "adapters/memory/memory_credential_ledger.hpp"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "core/request_id.hpp"
#include "ports/testing/credential_ledger_contract.hpp"

namespace scrutin::adapters::memory {
namespace {

using Kind = ports::ClaimOutcome::Kind;

core::Digest RandomDigest(std::mt19937_64& rng) {
  core::Digest d;
  for (auto& b : d.bytes) b = static_cast<std::uint8_t>(rng());
  return d;
}

class MemoryLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(42);
    for (int i = 0; i < 5000; ++i) eligible_.push_back(RandomDigest(rng));
    outsider_ = RandomDigest(rng);
    ledger_ = std::make_unique<MemoryCredentialLedger>(eligible_);
  }

  ports::ClaimOutcome Claim(const core::Digest& d, const std::string& tag) {
    ports::ClaimRequest req{d, tag};
    ports::ClaimOutcome out;
    EXPECT_TRUE(ledger_->ClaimBatch({&req, 1}, {&out, 1}));
    return out;
  }

  std::vector<core::Digest> eligible_;
  core::Digest outsider_;
  std::unique_ptr<MemoryCredentialLedger> ledger_;
};

std::string Tag() { return core::ClaimTag(core::RequestId::Generate()); }

TEST_F(MemoryLedgerTest, UnknownDigestIsIneligible) {
  auto o = Claim(outsider_, Tag());
  EXPECT_EQ(o.kind, Kind::kIneligible);
  EXPECT_EQ(ledger_->claimed_count(), 0u);
}

TEST_F(MemoryLedgerTest, EveryEligibleDigestIsFound) {
  for (const auto& d : eligible_) EXPECT_EQ(Claim(d, Tag()).kind, Kind::kClaimed);
  EXPECT_EQ(ledger_->claimed_count(), eligible_.size());
}

TEST_F(MemoryLedgerTest, SameClaimTagIsAReplayNotADuplicate) {
  auto tag = Tag();
  EXPECT_EQ(Claim(eligible_[3], tag).kind, Kind::kClaimed);
  auto again = Claim(eligible_[3], tag);
  EXPECT_EQ(again.kind, Kind::kReplayed);
  EXPECT_EQ(ledger_->claimed_count(), 1u);
}

TEST_F(MemoryLedgerTest, RevertRestoresThePreviousState) {
  auto held = Tag();
  Claim(eligible_[0], held);
  std::vector<ports::ClaimRequest> in = {
      {eligible_[0], Tag()}, {eligible_[2], Tag()}, {eligible_[2], Tag()}, {outsider_, Tag()}};
  std::vector<ports::ClaimOutcome> out(in.size());
  ASSERT_TRUE(ledger_->ClaimBatch(in, out));
  ASSERT_TRUE(ledger_->Revert(in, out));
  EXPECT_EQ(ledger_->claimed_count(), 1u);
  // The same requests decided again give the same answers: nothing of the batch remained.
  std::vector<ports::ClaimOutcome> again(in.size());
  ASSERT_TRUE(ledger_->ClaimBatch(in, again));
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(again[i].kind, out[i].kind) << i;
    EXPECT_EQ(again[i].attempt_count, out[i].attempt_count) << i;
  }
}

TEST_F(MemoryLedgerTest, RestoreRebuildsClaimsAndAttempts) {
  auto tag = Tag();
  ASSERT_TRUE(ledger_->RestoreClaim(eligible_[5], tag));
  ASSERT_TRUE(ledger_->RestoreAttempts(eligible_[5], 4));
  EXPECT_EQ(Claim(eligible_[5], tag).kind, Kind::kReplayed);
  auto dup = Claim(eligible_[5], Tag());
  EXPECT_EQ(dup.kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(dup.attempt_count, 5u);
  EXPECT_FALSE(ledger_->RestoreClaim(eligible_[5], Tag()));
  EXPECT_FALSE(ledger_->RestoreClaim(outsider_, Tag()));
}

TEST_F(MemoryLedgerTest, MemoryStaysUnder48BytesPerVoterAtScale) {
  std::mt19937_64 rng(7);
  std::vector<core::Digest> many(1'000'000);
  for (auto& d : many) d = RandomDigest(rng);
  MemoryCredentialLedger big(std::move(many));
  EXPECT_LE(static_cast<double>(big.memory_bytes()) / big.eligible_count(), 48.0);
}

// The port's contract (ports/testing/credential_ledger_contract.cpp): claims, replays, duplicates
// within and across batches, and Revert. The tests above keep what only this ledger has (its
// counters, start-up restore, memory per voter).
ports::testing::LedgerFactory MemoryLedgerFactory() {
  return {"Memory", [](const std::vector<core::Digest>& eligible) -> ports::CredentialLedgerPtr {
            return std::make_unique<MemoryCredentialLedger>(eligible);
          }};
}
ports::testing::RevertibleLedgerFactory RevertibleMemoryLedgerFactory() {
  return {"Memory",
          [](const std::vector<core::Digest>& eligible) -> ports::RevertibleCredentialLedgerPtr {
            return std::make_unique<MemoryCredentialLedger>(eligible);
          }};
}

using ports::testing::CredentialLedgerContract;
using ports::testing::RevertibleCredentialLedgerContract;
INSTANTIATE_TEST_SUITE_P(Memory, CredentialLedgerContract, ::testing::Values(MemoryLedgerFactory()),
                         ports::testing::FactoryName<ports::testing::LedgerFactory>);
INSTANTIATE_TEST_SUITE_P(Memory, RevertibleCredentialLedgerContract,
                         ::testing::Values(RevertibleMemoryLedgerFactory()),
                         ports::testing::FactoryName<ports::testing::RevertibleLedgerFactory>);

}  // namespace
}  // namespace scrutin::adapters::memory

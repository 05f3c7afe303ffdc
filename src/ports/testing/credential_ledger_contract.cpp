// What every CredentialLedger must do, whatever holds the claims (ports/credential_ledger.hpp).
// Ledger-specific behaviour (Redis remembering which request made a duplicate attempt, memory
// layout, restart recovery) stays in each adapter's own suite.
#include "ports/testing/credential_ledger_contract.hpp"

#include <random>

#include "core/request_id.hpp"

namespace scrutin::ports::testing {
namespace {

using Kind = ClaimOutcome::Kind;

std::string Tag() { return core::ClaimTag(core::RequestId::Generate()); }

}  // namespace

std::vector<core::Digest> RandomDigests(std::size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::vector<core::Digest> out(n);
  for (auto& d : out) {
    for (auto& b : d.bytes) b = static_cast<std::uint8_t>(rng());
  }
  return out;
}

// Every adapter's test binary links all the contract suites and instantiates only its port's.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CredentialLedgerContract);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RevertibleCredentialLedgerContract);

void CredentialLedgerContract::SetUp() {
  eligible_ = RandomDigests(2000);
  outsider_ = RandomDigests(1)[0];
  ledger_ = GetParam().make(eligible_);
  ASSERT_NE(ledger_, nullptr) << GetParam().name << ": no ledger";
}

ClaimOutcome CredentialLedgerContract::Claim(const core::Digest& d, const std::string& tag) {
  ClaimRequest req{d, tag};
  ClaimOutcome out;
  auto st = ledger_->ClaimBatch({&req, 1}, {&out, 1});
  EXPECT_TRUE(st.ok()) << st.error();
  return out;
}

TEST_P(CredentialLedgerContract, UnknownDigestIsIneligibleAndStoresNothing) {
  for (int i = 0; i < 2; ++i) {
    auto o = Claim(outsider_, Tag());
    EXPECT_EQ(o.kind, Kind::kIneligible);
    EXPECT_EQ(o.attempt_count, 1u);
  }
}

TEST_P(CredentialLedgerContract, EveryEligibleDigestIsFound) {
  std::vector<ClaimRequest> in;
  for (const auto& d : eligible_) in.push_back({d, Tag()});
  std::vector<ClaimOutcome> out(in.size());
  auto st = ledger_->ClaimBatch(in, out);
  ASSERT_TRUE(st.ok()) << st.error();
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].kind, Kind::kClaimed) << i;
    EXPECT_EQ(out[i].attempt_count, 1u) << i;
  }
}

TEST_P(CredentialLedgerContract, SecondRequestIsDuplicateWithGrowingAttemptCount) {
  auto first = Tag();
  auto claimed = Claim(eligible_[7], first);
  EXPECT_EQ(claimed.kind, Kind::kClaimed);
  EXPECT_EQ(claimed.attempt_count, 1u);
  auto dup = Claim(eligible_[7], Tag());
  EXPECT_EQ(dup.kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(dup.attempt_count, 2u);
  EXPECT_EQ(Claim(eligible_[7], Tag()).attempt_count, 3u);
  // The holder is still the first request, with the attempts so far.
  auto replay = Claim(eligible_[7], first);
  EXPECT_EQ(replay.kind, Kind::kReplayed);
  EXPECT_EQ(replay.attempt_count, 3u);
  // Another eligible digest is independent.
  EXPECT_EQ(Claim(eligible_[8], Tag()).kind, Kind::kClaimed);
}

TEST_P(CredentialLedgerContract, SameClaimTagIsAReplayNotADuplicate) {
  auto tag = Tag();
  EXPECT_EQ(Claim(eligible_[3], tag).kind, Kind::kClaimed);
  auto again = Claim(eligible_[3], tag);
  EXPECT_EQ(again.kind, Kind::kReplayed);
  EXPECT_EQ(again.attempt_count, 1u);
}

TEST_P(CredentialLedgerContract, WithinOneBatchTheSecondClaimIsADuplicate) {
  std::vector<ClaimRequest> in = {{eligible_[1], Tag()}, {eligible_[1], Tag()}};
  std::vector<ClaimOutcome> out(2);
  auto st = ledger_->ClaimBatch(in, out);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(out[0].kind, Kind::kClaimed);
  EXPECT_EQ(out[1].kind, Kind::kAlreadyClaimed);
  EXPECT_EQ(out[1].attempt_count, 2u);
}

TEST_P(CredentialLedgerContract, ReplayingABatchClaimsNothingNew) {
  std::vector<ClaimRequest> in;
  for (int i = 0; i < 50; ++i) in.push_back({eligible_[i * 10], Tag()});
  std::vector<ClaimOutcome> out(in.size());
  ASSERT_TRUE(ledger_->ClaimBatch(in, out).ok());
  std::vector<ClaimOutcome> again(in.size());
  ASSERT_TRUE(ledger_->ClaimBatch(in, again).ok());
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(again[i].kind, Kind::kReplayed) << i;
}

void RevertibleCredentialLedgerContract::SetUp() {
  eligible_ = RandomDigests(100);
  outsider_ = RandomDigests(1)[0];
  ledger_ = GetParam().make(eligible_);
  ASSERT_NE(ledger_, nullptr) << GetParam().name << ": no ledger";
}

ClaimOutcome RevertibleCredentialLedgerContract::Claim(const core::Digest& d,
                                                       const std::string& tag) {
  ClaimRequest req{d, tag};
  ClaimOutcome out;
  auto st = ledger_->ClaimBatch({&req, 1}, {&out, 1});
  EXPECT_TRUE(st.ok()) << st.error();
  return out;
}

TEST_P(RevertibleCredentialLedgerContract, RevertRestoresThePreviousState) {
  auto held = Tag();
  Claim(eligible_[0], held);
  std::vector<ClaimRequest> in = {
      {eligible_[0], Tag()}, {eligible_[2], Tag()}, {eligible_[2], Tag()}, {outsider_, Tag()}};
  std::vector<ClaimOutcome> out(in.size());
  ASSERT_TRUE(ledger_->ClaimBatch(in, out));
  ASSERT_TRUE(ledger_->Revert(in, out));
  // The same requests decided again give the same answers: nothing of the batch remained.
  std::vector<ClaimOutcome> again(in.size());
  ASSERT_TRUE(ledger_->ClaimBatch(in, again));
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(again[i].kind, out[i].kind) << i;
    EXPECT_EQ(again[i].attempt_count, out[i].attempt_count) << i;
  }
  // The claim made before the reverted batch stands.
  EXPECT_EQ(Claim(eligible_[0], held).kind, Kind::kReplayed);
}

}  // namespace scrutin::ports::testing

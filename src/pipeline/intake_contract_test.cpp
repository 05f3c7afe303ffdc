// The VoteIntake contract (ports/testing/vote_intake_contract.cpp) on the embedded shape's
// BatchingVoteIntake, over the shared fake ledger and record (which can be made to fail).
#include <atomic>
#include <random>

#include "core/request_id.hpp"
#include "pipeline/batching_intake.hpp"
#include "ports/testing/fake_credential_ledger.hpp"
#include "ports/testing/fake_vote_recorder.hpp"
#include "ports/testing/vote_intake_contract.hpp"
#include "ports/testing/contract_votes.hpp"

namespace scrutin::pipeline {
namespace {

class BatchingUnderTest final : public ports::testing::IntakeUnderTest {
 public:
  BatchingUnderTest() : intake_(ledger_, recorder_, BatchingIntakeOptions{}) {}
  ~BatchingUnderTest() override { intake_.Stop(); }
  ports::VoteIntake& intake() override { return intake_; }
  core::VoteEnvelope EligibleVote() override {
    core::VoteEnvelope v;
    v.request_id = core::RequestId::Generate();
    // Called from several submitting threads at once.
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    for (auto& b : v.digest.bytes) b = static_cast<std::uint8_t>(rng());
    v.digest.bytes[0] = 1;  // the fake ledger's eligible digests
    v.law_id = "L2025-001";
    v.ballot =
        ports::testing::TestSealer().Seal(v.law_id, core::Choice::kOui, core::Receipt(v.request_id)).value();
    v.received_at = core::Clock::now();
    return v;
  }
  void BreakBackend() override { recorder_.set_fail(true); }

 private:
  ports::testing::FakeCredentialLedger ledger_;
  ports::testing::FakeVoteRecorder recorder_{{"L2025-001"}};
  BatchingVoteIntake intake_;
};

using ports::testing::VoteIntakeContract;
INSTANTIATE_TEST_SUITE_P(Batching, VoteIntakeContract,
                         ::testing::Values(ports::testing::IntakeFactory{
                             "Batching",
                             [] {
                               return std::unique_ptr<ports::testing::IntakeUnderTest>(
                                   std::make_unique<BatchingUnderTest>());
                             }}),
                         ports::testing::FactoryName<ports::testing::IntakeFactory>);

}  // namespace
}  // namespace scrutin::pipeline

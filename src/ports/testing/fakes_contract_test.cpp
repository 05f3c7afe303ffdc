// The shared fakes hold to the contracts of the ports they stand in for, so a pipeline test over a
// fake tests what a real adapter would do.
#include "ports/testing/credential_ledger_contract.hpp"
#include "ports/testing/decision_publisher_contract.hpp"
#include "ports/testing/fake_credential_ledger.hpp"
#include "ports/testing/fake_decision_publisher.hpp"
#include "ports/testing/fake_status_writer.hpp"
#include "ports/testing/fake_vote_intake.hpp"
#include "ports/testing/fake_vote_recorder.hpp"
#include "ports/testing/status_writer_contract.hpp"
#include "ports/testing/vote_intake_contract.hpp"
#include "ports/testing/vote_recorder_contract.hpp"

namespace scrutin::ports::testing {
namespace {

LedgerFactory FakeLedgerFactory() {
  return {"Fake", [](const std::vector<core::Digest>& eligible) -> CredentialLedgerPtr {
            return std::make_unique<FakeCredentialLedger>(eligible);
          }};
}
RevertibleLedgerFactory RevertibleFakeLedgerFactory() {
  return {"Fake", [](const std::vector<core::Digest>& eligible) -> RevertibleCredentialLedgerPtr {
            return std::make_unique<FakeCredentialLedger>(eligible);
          }};
}

// The fake's next stage is its own list of published votes; breaking it makes Publish fail.
class FakePublisherUnderTest final : public PublisherUnderTest {
 public:
  DecisionPublisher& publisher() override { return fake_; }
  std::vector<DeliveredVote> Take(NextStage side, std::size_t) override {
    auto arrived = side == NextStage::kAggregation ? fake_.Aggregation() : fake_.Audit();
    std::size_t& taken = side == NextStage::kAggregation ? taken_aggregation_ : taken_audit_;
    std::vector<DeliveredVote> out;
    for (std::size_t i = taken; i < arrived.size(); ++i) {
      out.push_back({arrived[i].first, arrived[i].second});
    }
    taken = arrived.size();
    return out;
  }
  void BreakNextStage() override { fake_.fail = true; }

 private:
  FakeDecisionPublisher fake_;
  std::size_t taken_aggregation_ = 0;
  std::size_t taken_audit_ = 0;
};

PublisherFactory FakePublisherFactory() {
  return {"Fake", []() -> std::unique_ptr<PublisherUnderTest> {
            return std::make_unique<FakePublisherUnderTest>();
          }};
}

// The fake record reads back what it recorded.
class FakeRecorderUnderTest final : public RecorderUnderTest {
 public:
  explicit FakeRecorderUnderTest(const core::Ballot& ballot) : fake_(LawIds(ballot)) {}
  VoteRecorder& recorder() override { return fake_; }
  VoteQueries& queries() override { return fake_; }
  BallotBox& box() override { return fake_; }

 private:
  static std::vector<std::string> LawIds(const core::Ballot& ballot) {
    std::vector<std::string> ids;
    for (const auto& law : ballot.laws()) ids.push_back(law.id);
    return ids;
  }
  FakeVoteRecorder fake_;
};

RecorderFactory FakeRecorderFactory() {
  return {"Fake", [](const core::Ballot& ballot) -> std::unique_ptr<RecorderUnderTest> {
            return std::make_unique<FakeRecorderUnderTest>(ballot);
          }};
}

class FakeStatusWriterUnderTest final : public StatusWriterUnderTest {
 public:
  StatusWriter& writer() override { return fake_; }
  VoteQueries& queries() override { return fake_; }

 private:
  FakeStatusWriter fake_;
};

StatusWriterFactory FakeStatusWriterFactory() {
  return {"Fake", []() -> std::unique_ptr<StatusWriterUnderTest> {
            return std::make_unique<FakeStatusWriterUnderTest>();
          }};
}

// The fake intake's "backend" is its mode: broken, it answers kUnavailable.
class FakeIntakeUnderTest final : public IntakeUnderTest {
 public:
  VoteIntake& intake() override { return fake_; }
  core::VoteEnvelope EligibleVote() override {
    core::VoteEnvelope v;
    v.request_id = core::RequestId::Generate();
    v.digest.bytes[0] = 1;
    v.law_id = "L2025-001";
    return v;
  }
  void BreakBackend() override { fake_.set_mode(FakeVoteIntake::Mode::kUnavailable); }

 private:
  FakeVoteIntake fake_;
};

IntakeFactory FakeIntakeFactory() {
  return {"Fake", []() -> std::unique_ptr<IntakeUnderTest> {
            return std::make_unique<FakeIntakeUnderTest>();
          }};
}

INSTANTIATE_TEST_SUITE_P(Fake, VoteRecorderContract, ::testing::Values(FakeRecorderFactory()),
                         FactoryName<RecorderFactory>);
INSTANTIATE_TEST_SUITE_P(Fake, StatusWriterContract, ::testing::Values(FakeStatusWriterFactory()),
                         FactoryName<StatusWriterFactory>);
INSTANTIATE_TEST_SUITE_P(Fake, VoteIntakeContract, ::testing::Values(FakeIntakeFactory()),
                         FactoryName<IntakeFactory>);
INSTANTIATE_TEST_SUITE_P(Fake, CredentialLedgerContract, ::testing::Values(FakeLedgerFactory()),
                         FactoryName<LedgerFactory>);
INSTANTIATE_TEST_SUITE_P(Fake, RevertibleCredentialLedgerContract,
                         ::testing::Values(RevertibleFakeLedgerFactory()),
                         FactoryName<RevertibleLedgerFactory>);
INSTANTIATE_TEST_SUITE_P(Fake, DecisionPublisherContract, ::testing::Values(FakePublisherFactory()),
                         FactoryName<PublisherFactory>);

}  // namespace
}  // namespace scrutin::ports::testing

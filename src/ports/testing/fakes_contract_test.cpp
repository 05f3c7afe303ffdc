// The shared fakes hold to the contracts of the ports they stand in for, so a pipeline test over a
// fake tests what a real adapter would do.
#include "ports/testing/credential_ledger_contract.hpp"
#include "ports/testing/decision_publisher_contract.hpp"
#include "ports/testing/fake_credential_ledger.hpp"
#include "ports/testing/fake_decision_publisher.hpp"

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

INSTANTIATE_TEST_SUITE_P(Fake, CredentialLedgerContract, ::testing::Values(FakeLedgerFactory()),
                         FactoryName<LedgerFactory>);
INSTANTIATE_TEST_SUITE_P(Fake, RevertibleCredentialLedgerContract,
                         ::testing::Values(RevertibleFakeLedgerFactory()),
                         FactoryName<RevertibleLedgerFactory>);
INSTANTIATE_TEST_SUITE_P(Fake, DecisionPublisherContract, ::testing::Values(FakePublisherFactory()),
                         FactoryName<PublisherFactory>);

}  // namespace
}  // namespace scrutin::ports::testing

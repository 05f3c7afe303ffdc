#include "pipeline/validation_stage.hpp"

#include "core/failpoint.hpp"

namespace scrutin::pipeline {

ValidationStage::ValidationStage(ports::CredentialLedger& ledger,
                                 ports::DecisionPublisher& publisher, Listener listener)
    : validator_(ledger), publisher_(publisher), listener_(std::move(listener)) {}

core::Status ValidationStage::Process(std::span<const core::VoteEnvelope> votes,
                                      std::span<core::Decision> decisions) {
  if (votes.empty()) return {};
  if (auto st = validator_.Decide(votes, decisions); !st) {
    return core::Fail(st.code(), "deciding the batch failed: " + st.error());
  }
  core::Failpoint("validator.after_claim");

  if (auto st = publisher_.Publish(votes, decisions); !st) {
    return core::Fail(st.code(), "publishing the decided votes failed: " + st.error());
  }
  core::Failpoint("validator.after_publish");
  if (listener_) listener_(votes, decisions);
  return {};
}

}  // namespace scrutin::pipeline

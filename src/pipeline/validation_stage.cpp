#include "pipeline/validation_stage.hpp"

#include "core/failpoint.hpp"

namespace scrutin::pipeline {

ValidationStage::ValidationStage(ports::CredentialLedger& ledger,
                                 ports::DecisionPublisher& publisher, ports::StatusWriter& statuses,
                                 const core::Ballot& ballot, ValidationStageOptions options,
                                 Listener listener)
    : validator_(ledger),
      publisher_(publisher),
      statuses_(statuses),
      ballot_(ballot),
      options_(options),
      listener_(std::move(listener)) {}

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

  updates_.clear();
  updates_.reserve(votes.size());
  for (std::size_t i = 0; i < votes.size(); ++i) {
    ports::StatusUpdate u;
    u.id = votes[i].request_id;
    u.record.law_id = votes[i].law_id;
    u.record.status = decisions[i].status;
    u.record.attempt_count = decisions[i].attempt_count;
    if (const core::Law* law = ballot_.Find(votes[i].law_id)) {
      u.expires_at = law->closes_at + options_.status_retention;
    }
    updates_.push_back(std::move(u));
  }
  if (auto st = statuses_.Write(updates_, /*only_if_absent=*/false); !st) {
    return core::Fail(st.code(), "writing the final statuses failed: " + st.error());
  }
  if (listener_) listener_(votes, decisions);
  return {};
}

}  // namespace scrutin::pipeline

#include "pipeline/aggregation_stage.hpp"

#include <vector>

#include "core/failpoint.hpp"
#include "pipeline/status_update.hpp"

namespace scrutin::pipeline {

core::Status AggregationStage::Process(std::span<const core::VoteEnvelope> votes,
                                       std::span<core::Decision> decisions) {
  if (votes.empty()) return {};
  if (votes.size() != decisions.size()) {
    return core::Fail(core::ErrorCode::kRefused, "a vote without its decision");
  }
  for (const auto& d : decisions) {
    if (d.status == core::VoteStatus::kPending) {
      return core::Fail(core::ErrorCode::kRefused,
                        "a vote reached the aggregator without a decision");
    }
  }
  if (auto st = recorder_.Record(votes, decisions); !st) {
    return core::Fail(st.code(), "recording the batch failed: " + st.error());
  }
  core::Failpoint("aggregator.after_commit");
  if (statuses_ != nullptr) {
    std::vector<ports::StatusUpdate> updates;
    updates.reserve(votes.size());
    for (std::size_t i = 0; i < votes.size(); ++i) {
      updates.push_back(StatusUpdateFor(votes[i], decisions[i].status, decisions[i].attempt_count,
                                        ballot_, status_retention_));
    }
    if (auto st = statuses_->Write(updates, /*only_if_absent=*/false); !st) {
      return core::Fail(st.code(), "writing the final statuses failed: " + st.error());
    }
  }
  if (listener_) listener_(votes, decisions);
  return {};
}

}  // namespace scrutin::pipeline

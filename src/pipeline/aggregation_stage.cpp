#include "pipeline/aggregation_stage.hpp"

#include "core/failpoint.hpp"

namespace scrutin::pipeline {

core::Status AggregationStage::Process(std::span<const core::VoteEnvelope> votes,
                                       std::span<const core::Decision> decisions) {
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
  if (listener_) listener_(votes, decisions);
  return {};
}

}  // namespace scrutin::pipeline

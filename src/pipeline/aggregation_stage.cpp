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
  if (mirror_ != nullptr) {
    std::vector<ports::ClaimRequest> claims;
    for (std::size_t i = 0; i < votes.size(); ++i) {
      if (decisions[i].status != core::VoteStatus::kAccepted) continue;
      claims.push_back({votes[i].digest, core::ClaimTag(votes[i].request_id)});
    }
    auto report = mirror_->Reassert(claims);
    if (!report) {
      return core::Fail(report.code(),
                        "re-asserting the claims in the ledger failed: " + report.error());
    }
    restored_.fetch_add(report->restored, std::memory_order_relaxed);
    replaced_.fetch_add(report->replaced, std::memory_order_relaxed);
    unchanged_.fetch_add(report->unchanged, std::memory_order_relaxed);
    skipped_.fetch_add(report->skipped, std::memory_order_relaxed);
  }
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

ports::MirrorReport AggregationStage::mirrored() const {
  ports::MirrorReport r;
  r.restored = restored_.load(std::memory_order_relaxed);
  r.replaced = replaced_.load(std::memory_order_relaxed);
  r.unchanged = unchanged_.load(std::memory_order_relaxed);
  r.skipped = skipped_.load(std::memory_order_relaxed);
  return r;
}

}  // namespace scrutin::pipeline

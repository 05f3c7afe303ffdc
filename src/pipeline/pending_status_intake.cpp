#include "pipeline/pending_status_intake.hpp"

#include <algorithm>

#include "core/failpoint.hpp"
#include "pipeline/status_update.hpp"

namespace scrutin::pipeline {

PendingStatusIntake::PendingStatusIntake(ports::VoteIntake& inner, ports::StatusWriter& statuses,
                                         const core::Ballot& ballot,
                                         PendingStatusIntakeOptions options,
                                         std::vector<HealthProbe> probes)
    : inner_(inner),
      statuses_(statuses),
      ballot_(ballot),
      options_(options),
      probes_(std::move(probes)),
      queue_(options.max_queue) {
  std::size_t n = std::max<std::size_t>(1, options_.threads);
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) workers_.emplace_back([this] { Loop(); });
}

PendingStatusIntake::~PendingStatusIntake() { Stop(); }

void PendingStatusIntake::Submit(core::VoteEnvelope vote, Callback done) {
  QueueOrRefuse(queue_, Pending{std::move(vote), std::move(done)}, options_.retry_after_unavailable,
                options_.retry_after_overloaded);
}

std::vector<ports::HealthCheck> PendingStatusIntake::Health() {
  std::vector<ports::HealthCheck> checks = inner_.Health();
  for (const auto& probe : probes_) checks.push_back(probe());
  return checks;
}

void PendingStatusIntake::Stop() {
  queue_.Close();
  for (auto& w : workers_) {
    if (w.joinable() && w.get_id() != std::this_thread::get_id()) w.join();
  }
}

std::size_t PendingStatusIntake::queue_depth() const { return queue_.size(); }

void PendingStatusIntake::Loop() {
  std::vector<Pending> batch;
  batch.reserve(options_.max_batch);
  while (queue_.PopBatch(batch, options_.max_batch)) {  // false: stopping and drained
    Forward(batch);
    batch.clear();
  }
}

void PendingStatusIntake::Forward(std::vector<Pending>& batch) {
  std::vector<ports::StatusUpdate> updates;
  updates.reserve(batch.size());
  for (const auto& p : batch) {
    updates.push_back(
        StatusUpdateFor(p.vote, core::VoteStatus::kPending, 0, ballot_, options_.status_retention));
  }
  if (auto st = statuses_.Write(updates, /*only_if_absent=*/true); !st) {
    ports::IntakeResult refused;
    refused.kind = ports::IntakeResult::Kind::kUnavailable;
    refused.retry_after = options_.retry_after_unavailable;
    for (auto& p : batch) p.done(refused);
    return;
  }
  for (auto& p : batch) {
    inner_.Submit(std::move(p.vote), [done = std::move(p.done)](ports::IntakeResult result) {
      if (result.kind == ports::IntakeResult::Kind::kDurable) {
        core::Failpoint("api.after_confirm");
      }
      done(result);
    });
  }
}

}  // namespace scrutin::pipeline

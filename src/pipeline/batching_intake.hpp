// BatchingVoteIntake: the embedded shape's front door. Votes from every HTTP thread go into one
// bounded queue; a single writer thread takes them in batches, decides them (Validator over the
// in-process ledger), makes the whole batch durable in one transaction (VoteRecorder), and only
// then releases each vote's answer. While one batch commits, the next one accumulates, so under
// load many votes share one fsync (group commit).
//
// If a batch cannot be recorded, its ledger effects are undone and every vote of the batch is
// answered kUnavailable (503): nothing was counted, and the voters may simply retry.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/validator.hpp"
#include "ports/vote_intake.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::pipeline {

struct BatchingIntakeOptions {
  std::size_t max_batch = 1024;     // votes per transaction at most
  std::size_t max_queue = 100'000;  // votes waiting at most; beyond: kOverloaded
  std::chrono::seconds retry_after_unavailable{5};
  std::chrono::seconds retry_after_overloaded{1};
};

class BatchingVoteIntake final : public ports::VoteIntake {
 public:
  // Called on the writer thread after each committed batch (metrics, caches). Must not block.
  using CommitListener = std::function<void(std::span<const core::VoteEnvelope>,
                                            std::span<const core::Decision>,
                                            std::chrono::nanoseconds commit_duration)>;

  // The intake uses ledger and recorder from its writer thread only; both must outlive it.
  BatchingVoteIntake(ports::CredentialLedger& ledger, ports::VoteRecorder& recorder,
                     BatchingIntakeOptions options, CommitListener listener = {});
  ~BatchingVoteIntake() override;  // Stop()s

  void Submit(core::VoteEnvelope vote, Callback done) override;
  std::vector<ports::HealthCheck> Health() override;

  // Stops taking votes (later Submits answer kUnavailable), records everything already queued,
  // answers it, and joins the writer. Idempotent.
  void Stop();

  std::size_t queue_depth() const;

 private:
  struct Pending {
    core::VoteEnvelope vote;
    Callback done;
  };

  void WriterLoop();
  void ProcessBatch(std::vector<Pending>& batch);

  ports::CredentialLedger& ledger_;
  ports::VoteRecorder& recorder_;
  const BatchingIntakeOptions options_;
  CommitListener listener_;
  Validator validator_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;      // GUARDED_BY(mu_)

  std::mutex health_mu_;
  std::string last_error_;  // GUARDED_BY(health_mu_); empty when the last batch committed

  std::thread writer_;
};

}  // namespace scrutin::pipeline

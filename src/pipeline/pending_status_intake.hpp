// PendingStatusIntake: the distributed api's front door, a VoteIntake decorator that records each
// vote's `pending` status before handing the vote on (to the RabbitMQ publisher), so that a
// GET /api/v1/vote/{id} right after the 202 finds the request instead of answering 404.
//
// Submit() queues the vote (bounded; never blocks, no I/O). Worker threads take up to max_batch
// queued votes, write their `pending` statuses in one round trip (only_if_absent: a final status a
// fast validator wrote first is kept), then Submit each vote to the inner intake, whose answer
// (202 only after the broker's confirm) goes back to the caller unchanged. When the status write
// fails the votes are answered kUnavailable (503) without being handed on: nothing was recorded,
// the voter may retry.
//
// Health(): the inner intake's checks followed by the extra probes given at construction (e.g.
// the status store and the tally store).
//
// Thread-safety: Submit and Health from any thread. Callbacks run on a worker thread or on the
// inner intake's threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "core/ballot.hpp"
#include "pipeline/batch_queue.hpp"
#include "ports/status_writer.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::pipeline {

struct PendingStatusIntakeOptions {
  std::size_t threads = 2;
  std::size_t max_batch = 500;
  std::size_t max_queue = 50'000;  // beyond: kOverloaded
  // `pending` records are kept until the law closes plus this long.
  std::chrono::seconds status_retention{std::chrono::hours(24 * 30)};
  std::chrono::seconds retry_after_unavailable{5};
  std::chrono::seconds retry_after_overloaded{1};
};

class PendingStatusIntake final : public ports::VoteIntake {
 public:
  using HealthProbe = std::function<ports::HealthCheck()>;

  // inner, statuses and ballot must outlive the intake. Starts the worker threads.
  PendingStatusIntake(ports::VoteIntake& inner, ports::StatusWriter& statuses,
                      const core::Ballot& ballot, PendingStatusIntakeOptions options,
                      std::vector<HealthProbe> probes = {});
  ~PendingStatusIntake() override;  // Stop()s

  void Submit(core::VoteEnvelope vote, Callback done) override;
  std::vector<ports::HealthCheck> Health() override;

  // Stops taking votes (later Submits answer kUnavailable), hands on what is queued, and joins
  // the workers. Answers from the inner intake may still arrive afterwards: stop the inner intake
  // after this. Idempotent.
  void Stop();

  std::size_t queue_depth() const;

 private:
  struct Pending {
    core::VoteEnvelope vote;
    Callback done;
  };
  void Loop();
  void Forward(std::vector<Pending>& batch);

  ports::VoteIntake& inner_;
  ports::StatusWriter& statuses_;
  const core::Ballot& ballot_;
  const PendingStatusIntakeOptions options_;
  const std::vector<HealthProbe> probes_;

  BatchQueue<Pending> queue_;
  std::vector<std::thread> workers_;
};

}  // namespace scrutin::pipeline

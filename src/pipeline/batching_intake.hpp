// BatchingVoteIntake: the embedded shape's front door. Votes from every HTTP thread go into one
// bounded queue; a single writer thread takes them in batches, decides them (Validator over the
// in-process ledger) and records the whole batch in one transaction (VoteRecorder). A completion
// thread then makes recorded batches durable (VoteRecorder::Sync, when the recorder defers its
// syncs) and only then releases each vote's answer. While one batch commits, the next one
// accumulates, and while recorded batches are being synced the writer records the next one, so
// under load many votes share one transaction and several transactions share one fsync (group
// commit), and the writer thread never waits for the disk nor formats answers.
//
// If a batch cannot be recorded, its ledger effects are undone and every vote of the batch is
// answered kUnavailable (503): nothing was counted, and the voters may simply retry. If a sync
// fails, whether the batches it covered are on disk cannot be known and the in-memory ledger may
// no longer match the disk: the process aborts with a message (like PostgreSQL's PANIC on a failed
// fsync), none of those votes having been answered, and the restart rebuilds from what is on disk.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "pipeline/batch_queue.hpp"
#include "pipeline/validator.hpp"
#include "ports/vote_intake.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::pipeline {

struct BatchingIntakeOptions {
  std::size_t max_batch = 1024;     // votes per transaction at most
  std::size_t max_queue = 100'000;  // votes waiting at most; beyond: kOverloaded
  std::size_t max_unsynced = 16;    // recorded batches awaiting their sync at most (writer waits)
  // Called on the completion thread after each successful VoteRecorder::Sync with its duration
  // and the number of votes it made durable (metrics). Must not block.
  std::function<void(std::chrono::nanoseconds duration, std::size_t votes)> on_sync = {};
  // Called on the writer thread when no vote came for `idle_tick` (periodic work that must use
  // the writer's connection: the embedded mixer's round for laws that closed). Empty: none.
  std::function<void()> on_idle = {};
  std::chrono::milliseconds idle_tick{1000};
  std::chrono::seconds retry_after_unavailable{5};
  std::chrono::seconds retry_after_overloaded{1};
};

class BatchingVoteIntake final : public ports::VoteIntake {
 public:
  // Called on the writer thread after each committed batch, before it goes to be synced and
  // answered (metrics, caches; the embedded mixer's round). Whatever it costs delays the next
  // batch, so it must be short.
  using CommitListener =
      std::function<void(std::span<const core::VoteEnvelope>, std::span<const core::Decision>,
                         std::chrono::nanoseconds commit_duration)>;

  // The intake uses ledger and recorder from its writer thread only; both must outlive it.
  BatchingVoteIntake(ports::RevertibleCredentialLedger& ledger, ports::VoteRecorder& recorder,
                     BatchingIntakeOptions options, CommitListener listener = {});
  ~BatchingVoteIntake() override;  // Stop()s

  void Submit(core::VoteEnvelope vote, Callback done) override;
  std::vector<ports::HealthCheck> Health() override;

  // Stops taking votes (later Submits answer kUnavailable), records everything already queued,
  // syncs and answers it, and joins the threads. Idempotent.
  void Stop();

  std::size_t queue_depth() const;

 private:
  struct Pending {
    core::VoteEnvelope vote;
    Callback done;
  };

  // A batch the writer is done with, waiting for the completion thread.
  struct Recorded {
    std::vector<Callback> done;
    std::vector<core::Decision> decisions;
    bool ok = false;  // recorded; false: answer kUnavailable
  };

  void WriterLoop();
  Recorded ProcessBatch(std::vector<Pending>& batch);
  void CompletionLoop();

  ports::RevertibleCredentialLedger& ledger_;
  ports::VoteRecorder& recorder_;
  const BatchingIntakeOptions options_;
  CommitListener listener_;
  Validator validator_;

  BatchQueue<Pending> queue_;

  core::Mutex health_mu_;
  std::string last_error_ GUARDED_BY(health_mu_);  // empty when the last batch committed

  core::Mutex done_mu_;
  core::CondVar done_cv_;  // a batch was recorded, or the writer ended
  core::CondVar room_cv_;  // the completion thread took batches
  std::deque<Recorded> recorded_ GUARDED_BY(done_mu_);
  bool writer_done_ GUARDED_BY(done_mu_) = false;

  std::thread writer_;
  std::thread completer_;
};

}  // namespace scrutin::pipeline

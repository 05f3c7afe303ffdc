#include "pipeline/batching_intake.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace scrutin::pipeline {

BatchingVoteIntake::BatchingVoteIntake(ports::CredentialLedger& ledger,
                                       ports::VoteRecorder& recorder,
                                       BatchingIntakeOptions options, CommitListener listener)
    : ledger_(ledger),
      recorder_(recorder),
      options_(options),
      listener_(std::move(listener)),
      validator_(ledger) {
  writer_ = std::thread([this] { WriterLoop(); });
}

BatchingVoteIntake::~BatchingVoteIntake() { Stop(); }

void BatchingVoteIntake::Submit(core::VoteEnvelope vote, Callback done) {
  ports::IntakeResult refused;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queue) {
      queue_.push_back(Pending{std::move(vote), std::move(done)});
      if (queue_.size() == 1) cv_.notify_one();
      return;
    }
    refused.kind = stopping_ ? ports::IntakeResult::Kind::kUnavailable
                             : ports::IntakeResult::Kind::kOverloaded;
    refused.retry_after =
        stopping_ ? options_.retry_after_unavailable : options_.retry_after_overloaded;
  }
  done(refused);
}

void BatchingVoteIntake::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
}

std::size_t BatchingVoteIntake::queue_depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::vector<ports::HealthCheck> BatchingVoteIntake::Health() {
  std::vector<ports::HealthCheck> checks;
  {
    std::lock_guard lock(health_mu_);
    checks.push_back({"store", last_error_.empty(), last_error_.empty() ? "ok" : last_error_});
  }
  std::size_t depth = queue_depth();
  bool queue_ok = depth < options_.max_queue;
  checks.push_back({"queue", queue_ok,
                    queue_ok ? "ok" : fmt::format("full ({} votes waiting)", depth)});
  return checks;
}

void BatchingVoteIntake::WriterLoop() {
  std::vector<Pending> batch;
  batch.reserve(options_.max_batch);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      std::size_t n = std::min(queue_.size(), options_.max_batch);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ProcessBatch(batch);
    batch.clear();
  }
}

void BatchingVoteIntake::ProcessBatch(std::vector<Pending>& batch) {
  std::vector<core::VoteEnvelope> votes;
  votes.reserve(batch.size());
  for (auto& p : batch) votes.push_back(std::move(p.vote));
  std::vector<core::Decision> decisions(votes.size());

  auto started = std::chrono::steady_clock::now();
  core::Status st = validator_.Decide(votes, decisions);
  if (st) {
    st = recorder_.Record(votes, decisions);
    if (!st) {
      // Nothing of the batch is durable: forget its claims so the voters can retry as new.
      if (auto undo = validator_.Undo(votes); !undo) {
        // A ledger that cannot revert while its recorder failed is a broken invariant of the
        // embedded shape (memory ledger reverts always succeed): refuse to go on guessing.
        std::fprintf(stderr, "fatal: cannot revert ledger after failed commit: %s\n",
                     undo.error().c_str());
        std::abort();
      }
    }
  }
  auto elapsed = std::chrono::steady_clock::now() - started;

  {
    std::lock_guard lock(health_mu_);
    last_error_ = st ? std::string() : st.error();
  }
  if (st && listener_) listener_(votes, decisions, elapsed);

  for (std::size_t i = 0; i < batch.size(); ++i) {
    ports::IntakeResult result;
    if (st) {
      result.kind = ports::IntakeResult::Kind::kDurable;
      result.decision = decisions[i];
    } else {
      result.kind = ports::IntakeResult::Kind::kUnavailable;
      result.retry_after = options_.retry_after_unavailable;
    }
    batch[i].done(result);
  }
}

}  // namespace scrutin::pipeline

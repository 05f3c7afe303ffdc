#include "pipeline/batching_intake.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/mutex.hpp"

namespace scrutin::pipeline {

BatchingVoteIntake::BatchingVoteIntake(ports::RevertibleCredentialLedger& ledger,
                                       ports::VoteRecorder& recorder, BatchingIntakeOptions options,
                                       CommitListener listener)
    : ledger_(ledger),
      recorder_(recorder),
      options_(options),
      listener_(std::move(listener)),
      validator_(ledger),
      queue_(options.max_queue) {
  writer_ = std::thread([this] { WriterLoop(); });
  completer_ = std::thread([this] { CompletionLoop(); });
}

BatchingVoteIntake::~BatchingVoteIntake() { Stop(); }

void BatchingVoteIntake::Submit(core::VoteEnvelope vote, Callback done) {
  QueueOrRefuse(queue_, Pending{std::move(vote), std::move(done)}, options_.retry_after_unavailable,
                options_.retry_after_overloaded);
}

void BatchingVoteIntake::Stop() {
  queue_.Close();
  for (auto* t : {&writer_, &completer_}) {
    if (t->joinable() && t->get_id() != std::this_thread::get_id()) t->join();
  }
}

std::size_t BatchingVoteIntake::queue_depth() const { return queue_.size(); }

std::vector<ports::HealthCheck> BatchingVoteIntake::Health() {
  std::vector<ports::HealthCheck> checks;
  {
    core::MutexLock lock(health_mu_);
    checks.push_back({"store", last_error_.empty(), last_error_.empty() ? "ok" : last_error_});
  }
  std::size_t depth = queue_depth();
  bool queue_ok = depth < options_.max_queue;
  checks.push_back(
      {"queue", queue_ok, queue_ok ? "ok" : fmt::format("full ({} votes waiting)", depth)});
  return checks;
}

void BatchingVoteIntake::WriterLoop() {
  std::vector<Pending> batch;
  batch.reserve(options_.max_batch);
  for (;;) {
    // false: stopping and drained. With on_idle, an empty batch is an idle tick.
    const bool more = options_.on_idle
                          ? queue_.PopBatchOrIdle(batch, options_.max_batch, options_.idle_tick)
                          : queue_.PopBatch(batch, options_.max_batch);
    if (!more) break;
    if (batch.empty()) {
      options_.on_idle();
      continue;
    }
    Recorded recorded = ProcessBatch(batch);
    batch.clear();
    core::MutexLock lock(done_mu_);
    room_cv_.Wait(lock,
                  [&]() REQUIRES(done_mu_) { return recorded_.size() < options_.max_unsynced; });
    recorded_.push_back(std::move(recorded));
    if (recorded_.size() == 1) done_cv_.NotifyOne();
  }
  core::MutexLock lock(done_mu_);
  writer_done_ = true;
  done_cv_.NotifyOne();
}

BatchingVoteIntake::Recorded BatchingVoteIntake::ProcessBatch(std::vector<Pending>& batch) {
  std::vector<core::VoteEnvelope> votes;
  votes.reserve(batch.size());
  Recorded out;
  out.done.reserve(batch.size());
  for (auto& p : batch) {
    votes.push_back(std::move(p.vote));
    out.done.push_back(std::move(p.done));
  }
  out.decisions.resize(votes.size());

  auto started = std::chrono::steady_clock::now();
  core::Status st = validator_.Decide(votes, out.decisions);
  if (st) {
    st = recorder_.Record(votes, out.decisions);
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
    core::MutexLock lock(health_mu_);
    last_error_ = st ? std::string() : st.error();
  }
  if (st && listener_) listener_(votes, out.decisions, elapsed);
  out.ok = static_cast<bool>(st);
  return out;
}

void BatchingVoteIntake::CompletionLoop() {
  std::deque<Recorded> ready;
  for (;;) {
    {
      core::MutexLock lock(done_mu_);
      done_cv_.Wait(lock, [&]() REQUIRES(done_mu_) { return writer_done_ || !recorded_.empty(); });
      if (recorded_.empty()) return;  // the writer ended and everything was answered
      ready.swap(recorded_);
      room_cv_.NotifyOne();
    }
    // One sync for every batch recorded so far (their Record() calls all returned before it).
    bool any_recorded = std::any_of(ready.begin(), ready.end(), [](auto& r) { return r.ok; });
    if (any_recorded && recorder_.defers_sync()) {
      auto started = std::chrono::steady_clock::now();
      if (auto st = recorder_.Sync(); !st) {
        std::fprintf(stderr,
                     "fatal: the vote store could not sync recorded votes (%s); whether they are "
                     "on disk is unknown, so scrutin stops without answering them; restart it to "
                     "recover from what is on disk\n",
                     st.error().c_str());
        std::abort();
      }
      if (options_.on_sync) {
        std::size_t votes = 0;
        for (auto& r : ready) votes += r.ok ? r.done.size() : 0;
        options_.on_sync(std::chrono::steady_clock::now() - started, votes);
      }
    }
    for (auto& r : ready) {
      for (std::size_t i = 0; i < r.done.size(); ++i) {
        ports::IntakeResult result;
        if (r.ok) {
          result.kind = ports::IntakeResult::Kind::kDurable;
          result.decision = r.decisions[i];
        } else {
          result.kind = ports::IntakeResult::Kind::kUnavailable;
          result.retry_after = options_.retry_after_unavailable;
        }
        r.done[i](result);
      }
    }
    ready.clear();
  }
}

}  // namespace scrutin::pipeline

// BatchQueue: a bounded queue between many producers (HTTP threads) and workers that take items
// in batches — what both front doors put between the API and their workers (BatchingVoteIntake's
// writer, PendingStatusIntake's status writers). Bounded so that overload is answered at once
// (a 503 with Retry-After) instead of growing memory without limit.
//
// Thread-safety: every method may be called from any thread.
// Private to src/pipeline: other modules use its public headers.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <vector>

#include "core/mutex.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::pipeline {

template <typename T>
class BatchQueue {
 public:
  // REQUIRES: capacity > 0.
  explicit BatchQueue(std::size_t capacity) : capacity_(capacity) {}

  enum class PushResult { kQueued, kFull, kClosed };

  // Queues `item`, moving from it only when the result is kQueued: on kFull (capacity items are
  // waiting) or kClosed (after Close()) the caller still owns it, e.g. to answer it.
  PushResult Push(T& item) {
    {
      core::MutexLock lock(mu_);
      if (closed_) return PushResult::kClosed;
      if (items_.size() >= capacity_) return PushResult::kFull;
      items_.push_back(std::move(item));
    }
    cv_.NotifyOne();
    return PushResult::kQueued;
  }

  // Blocks until an item is queued or the queue is closed, then moves up to `max` items (in
  // arrival order) to the end of `out`. Returns false once the queue is closed and empty: items
  // queued before Close() are all still handed out.
  // REQUIRES: max > 0.
  bool PopBatch(std::vector<T>& out, std::size_t max) {
    core::MutexLock lock(mu_);
    cv_.Wait(lock, [&]() REQUIRES(mu_) { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    std::size_t n = std::min(items_.size(), max);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return true;
  }

  // PopBatch that also returns, with `out` left empty, once `idle` passes without an item: what a
  // consumer that has periodic work of its own waits with. False only when closed and drained.
  template <typename Rep, typename Period>
  bool PopBatchOrIdle(std::vector<T>& out, std::size_t max, std::chrono::duration<Rep, Period> idle) {
    core::MutexLock lock(mu_);
    cv_.WaitFor(lock, idle, [&]() REQUIRES(mu_) { return closed_ || !items_.empty(); });
    if (items_.empty()) return !closed_;
    std::size_t n = std::min(items_.size(), max);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return true;
  }

  // Refuses later pushes and wakes every waiting consumer. Idempotent.
  void Close() {
    {
      core::MutexLock lock(mu_);
      closed_ = true;
    }
    cv_.NotifyAll();
  }

  std::size_t size() const {
    core::MutexLock lock(mu_);
    return items_.size();
  }
  std::size_t capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  mutable core::Mutex mu_;
  core::CondVar cv_;
  std::deque<T> items_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
};

// A front door's Submit: queues `pending` (anything with a `done` callback taking an
// ports::IntakeResult), or answers it at once when the queue refuses it: kOverloaded (retry soon)
// when full, kUnavailable when the intake is stopping.
template <typename Pending>
void QueueOrRefuse(BatchQueue<Pending>& queue, Pending pending,
                   std::chrono::seconds retry_after_unavailable,
                   std::chrono::seconds retry_after_overloaded) {
  auto pushed = queue.Push(pending);
  if (pushed == BatchQueue<Pending>::PushResult::kQueued) return;
  bool closed = pushed == BatchQueue<Pending>::PushResult::kClosed;
  ports::IntakeResult refused;
  refused.kind =
      closed ? ports::IntakeResult::Kind::kUnavailable : ports::IntakeResult::Kind::kOverloaded;
  refused.retry_after = closed ? retry_after_unavailable : retry_after_overloaded;
  pending.done(refused);
}

}  // namespace scrutin::pipeline

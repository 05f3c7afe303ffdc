// BoundedExecutor: a few worker threads behind a bounded queue, for the work an HTTP handler must
// not do on its server thread — a read that may wait on a backend (the distributed api's status
// lookups in Redis). A server thread that blocks stalls every connection it serves, votes
// included; handed to this executor, a slow backend costs only the lookups themselves.
//
// Nothing waits here without a bound:
//   - TrySubmit never blocks: when the queue is full it refuses at once (the caller answers
//     503 + Retry-After itself);
//   - a task whose deadline (deadline after TrySubmit) passed while it was queued is not run but
//     called with expired = true (the caller answers 503): under a slow backend the queue drains
//     at once instead of doing work nobody waits for any more.
// How long a task takes once it runs is the task's business (bound it with its client's
// timeouts).
//
// Thread-safety: TrySubmit may be called from any thread, including from a task. Stop is called by
// the owner, never from a task.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "core/mutex.hpp"

namespace scrutin::http {

class BoundedExecutor {
 public:
  struct Options {
    std::size_t threads = 4;
    std::size_t max_queue = 256;
    // From TrySubmit to the start of the task; past it the task is called with expired = true.
    std::chrono::milliseconds deadline{1000};
  };
  // Called exactly once for every task TrySubmit accepted: expired == false when it runs within
  // its deadline, true when the deadline passed first (the task should only answer "unavailable").
  using Task = std::function<void(bool expired)>;

  // Starts the threads. REQUIRES: options.threads >= 1 and options.max_queue >= 1.
  explicit BoundedExecutor(Options options);
  // Stop().
  ~BoundedExecutor();
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task`; true when taken (it will be called exactly once), false at once when the queue
  // holds max_queue tasks or the executor is stopping (the task is then never called).
  bool TrySubmit(Task task);

  // Stops taking tasks, calls every task still queued (the expired ones as expired), joins the
  // threads. Idempotent.
  void Stop();

  // Tasks waiting to start.
  std::size_t queue_depth() const;
  // Tasks refused by TrySubmit because the queue was full; tasks called expired. Monotonic.
  std::uint64_t refused() const;
  std::uint64_t expired() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Item {
    Task task;
    Clock::time_point deadline;
  };
  void Loop();

  const Options options_;
  mutable core::Mutex mu_;
  core::CondVar cv_;
  std::deque<Item> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::uint64_t refused_ GUARDED_BY(mu_) = 0;
  std::uint64_t expired_ GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace scrutin::http

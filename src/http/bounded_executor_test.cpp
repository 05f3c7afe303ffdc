// BoundedExecutor: tasks are run and their answers delivered; a full queue refuses at once; a
// task whose deadline passed while queued is called expired; Stop drains what is queued.
#include "http/bounded_executor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <thread>
#include <vector>

#include "core/mutex.hpp"

namespace scrutin::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A gate the test opens: tasks that wait on it hold the executor's threads.
class Gate {
 public:
  void Wait() {
    core::MutexLock lock(mu_);
    cv_.Wait(lock, [&]() REQUIRES(mu_) { return open_; });
  }
  void Open() {
    {
      core::MutexLock lock(mu_);
      open_ = true;
    }
    cv_.NotifyAll();
  }

 private:
  core::Mutex mu_;
  core::CondVar cv_;
  bool open_ = false;
};

TEST(BoundedExecutorTest, RunsTasksAndDeliversTheirAnswers) {
  BoundedExecutor ex({.threads = 3, .max_queue = 64, .deadline = 5s});
  core::Mutex mu;
  std::vector<int> answers;
  std::atomic<int> expired{0};
  std::latch done(50);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(ex.TrySubmit([&, i](bool is_expired) {
      if (is_expired) ++expired;
      {
        core::MutexLock lock(mu);
        answers.push_back(i * i);
      }
      done.count_down();
    }));
  }
  done.wait();
  EXPECT_EQ(expired.load(), 0);
  core::MutexLock lock(mu);
  ASSERT_EQ(answers.size(), 50u);
  std::sort(answers.begin(), answers.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(answers[i], i * i);
}

TEST(BoundedExecutorTest, RunsOnItsOwnThreads) {
  BoundedExecutor ex({.threads = 1, .max_queue = 4, .deadline = 5s});
  std::promise<std::thread::id> ran_on;
  ASSERT_TRUE(ex.TrySubmit([&](bool) { ran_on.set_value(std::this_thread::get_id()); }));
  EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
}

TEST(BoundedExecutorTest, FullQueueIsRefusedAtOnce) {
  Gate gate;
  BoundedExecutor ex({.threads = 2, .max_queue = 3, .deadline = 10s});
  std::latch busy(2);
  std::atomic<int> called{0};
  // Two tasks hold both threads, three fill the queue.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(ex.TrySubmit([&](bool) {
      busy.count_down();
      gate.Wait();
      ++called;
    }));
  }
  busy.wait();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ex.TrySubmit([&](bool) { ++called; }));
  EXPECT_EQ(ex.queue_depth(), 3u);

  // The sixth is refused, without waiting for the blocked threads, and never called.
  bool refused_called = false;
  const auto t0 = Clock::now();
  EXPECT_FALSE(ex.TrySubmit([&](bool) { refused_called = true; }));
  EXPECT_LT(Clock::now() - t0, 100ms);
  EXPECT_EQ(ex.refused(), 1u);

  gate.Open();
  ex.Stop();
  EXPECT_EQ(called.load(), 5);
  EXPECT_FALSE(refused_called);
  // Once room is made (here: stopped), nothing more is taken.
  EXPECT_FALSE(ex.TrySubmit([](bool) {}));
}

TEST(BoundedExecutorTest, TaskPastItsDeadlineIsCalledExpired) {
  Gate gate;
  BoundedExecutor ex({.threads = 1, .max_queue = 8, .deadline = 50ms});
  std::latch busy(1);
  ASSERT_TRUE(ex.TrySubmit([&](bool) {
    busy.count_down();
    gate.Wait();
  }));
  busy.wait();
  std::promise<bool> late;
  ASSERT_TRUE(ex.TrySubmit([&](bool expired) { late.set_value(expired); }));
  std::this_thread::sleep_for(150ms);  // the backend is "slow": the queued lookup waits too long
  gate.Open();
  EXPECT_TRUE(late.get_future().get());
  EXPECT_EQ(ex.expired(), 1u);

  // A task submitted now, with the thread free, runs in time.
  std::promise<bool> prompt;
  ASSERT_TRUE(ex.TrySubmit([&](bool expired) { prompt.set_value(expired); }));
  EXPECT_FALSE(prompt.get_future().get());
  EXPECT_EQ(ex.expired(), 1u);
}

TEST(BoundedExecutorTest, StopCallsEveryQueuedTaskOnce) {
  Gate gate;
  BoundedExecutor ex({.threads = 1, .max_queue = 16, .deadline = 10s});
  std::latch busy(1);
  std::atomic<int> called{0};
  ASSERT_TRUE(ex.TrySubmit([&](bool) {
    busy.count_down();
    gate.Wait();
    ++called;
  }));
  busy.wait();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ex.TrySubmit([&](bool) { ++called; }));
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.Open();
  });
  ex.Stop();
  opener.join();
  EXPECT_EQ(called.load(), 11);
  ex.Stop();  // idempotent
}

}  // namespace
}  // namespace scrutin::http

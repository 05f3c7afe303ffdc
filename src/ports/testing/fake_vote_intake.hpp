// FakeVoteIntake: a VoteIntake whose answer the test chooses, for tests of the intake's callers
// (http's vote route, pipeline's pending-status intake), in place of a hand-written one per test
// file. It keeps every vote submitted; answers kDurable with `decision` (or kUnavailable /
// kOverloaded with retry_after 7 s), or holds the callbacks until ReleaseAll(). It answers on a
// thread of its own, like the real intakes, unless `inline_answers`; `on_submit` runs first for
// every vote (e.g. to check what a stage before it wrote). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/mutex.hpp"
#include "core/vote.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::ports::testing {

class FakeVoteIntake final : public VoteIntake {
 public:
  enum class Mode { kDecide, kHold, kUnavailable, kOverloaded };

  explicit FakeVoteIntake(bool inline_answers = false,
                          std::function<void(const core::VoteEnvelope&)> on_submit = {})
      : inline_answers_(inline_answers), on_submit_(std::move(on_submit)) {}

  ~FakeVoteIntake() override {
    ReleaseAll();
    core::MutexLock lock(mu_);
    for (auto& t : threads_) t.join();
  }

  void Submit(core::VoteEnvelope vote, Callback done) override {
    if (on_submit_) on_submit_(vote);
    core::MutexLock lock(mu_);
    received_.push_back(vote);
    if (mode_ == Mode::kHold) {
      held_.push_back(std::move(done));
      cv_.NotifyAll();
      return;
    }
    IntakeResult result;
    result.retry_after = std::chrono::seconds(7);
    if (mode_ == Mode::kDecide) {
      result.kind = IntakeResult::Kind::kDurable;
      result.decision = decision_;
    } else {
      result.kind = mode_ == Mode::kUnavailable ? IntakeResult::Kind::kUnavailable
                                                : IntakeResult::Kind::kOverloaded;
    }
    if (inline_answers_) {
      lock.Unlock();
      done(result);
      return;
    }
    threads_.emplace_back([done = std::move(done), result] { done(result); });
  }

  std::vector<HealthCheck> Health() override {
    core::MutexLock lock(mu_);
    return health_;
  }

  void set_mode(Mode mode) {
    core::MutexLock lock(mu_);
    mode_ = mode;
  }
  void set_decision(core::Decision decision) {
    core::MutexLock lock(mu_);
    decision_ = decision;
  }
  void set_health(std::vector<HealthCheck> health) {
    core::MutexLock lock(mu_);
    health_ = std::move(health);
  }

  // Waits up to 5 s until `n` callbacks are held (Mode::kHold).
  bool WaitHeld(std::size_t n) {
    core::MutexLock lock(mu_);
    return cv_.WaitFor(lock, std::chrono::seconds(5),
                       [&]() REQUIRES(mu_) { return held_.size() >= n; });
  }
  // Answers every held vote kDurable, accepted.
  void ReleaseAll() {
    std::deque<Callback> held;
    {
      core::MutexLock lock(mu_);
      held.swap(held_);
    }
    IntakeResult result;
    result.kind = IntakeResult::Kind::kDurable;
    result.decision = {core::VoteStatus::kAccepted, 1, false};
    for (auto& cb : held) cb(result);
  }

  std::size_t count() {
    core::MutexLock lock(mu_);
    return received_.size();
  }
  core::VoteEnvelope Received(std::size_t i) {
    core::MutexLock lock(mu_);
    return received_[i];
  }

 private:
  const bool inline_answers_;
  const std::function<void(const core::VoteEnvelope&)> on_submit_;
  core::Mutex mu_;
  core::CondVar cv_;
  Mode mode_ GUARDED_BY(mu_) = Mode::kDecide;
  core::Decision decision_ GUARDED_BY(mu_){core::VoteStatus::kAccepted, 1, false};
  std::vector<HealthCheck> health_ GUARDED_BY(mu_){{"store", true, ""}, {"eligibility", true, ""}};
  std::vector<core::VoteEnvelope> received_ GUARDED_BY(mu_);
  std::deque<Callback> held_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_ GUARDED_BY(mu_);
};

}  // namespace scrutin::ports::testing

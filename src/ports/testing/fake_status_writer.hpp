// FakeStatusWriter: an in-memory StatusWriter (and the FindStatus that reads it back) for tests of
// code written over the port (pipeline's stages and pending-status intake), in place of a
// hand-written one per test file. It can fail on demand, writing nothing, hold every Write until
// released (to fill a caller's queue), and calls `on_write` after each successful write (e.g. to
// journal the order of events across fakes). It passes
// StatusWriterContract (ports_testing_test runs it). Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "core/mutex.hpp"
#include "core/request_id.hpp"
#include "core/result.hpp"
#include "ports/status_writer.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::ports::testing {

class FakeStatusWriter : public StatusWriter, public VoteQueries {
 public:
  // `on_write(only_if_absent)` runs after every successful Write.
  explicit FakeStatusWriter(std::function<void(bool only_if_absent)> on_write = {})
      : on_write_(std::move(on_write)) {}

  core::Status Write(std::span<const StatusUpdate> updates, bool only_if_absent) override {
    {
      core::MutexLock lock(mu_);
      ++entered_;
      cv_.NotifyAll();
      cv_.Wait(lock, [this]() REQUIRES(mu_) { return !hold_; });
      if (fail_) return core::Fail(core::ErrorCode::kUnavailable, std::string("status store down"));
      for (const auto& u : updates) {
        auto key = u.id.ToString();
        if (only_if_absent && records_.contains(key)) continue;
        records_[key] = u;
      }
    }
    if (on_write_) on_write_(only_if_absent);
    return {};
  }

  core::Result<std::optional<StatusRecord>> FindStatus(const core::RequestId& id) override {
    auto u = Update(id);
    if (!u) return std::optional<StatusRecord>();
    return std::optional<StatusRecord>(u->record);
  }
  core::Result<Tally> FindTally(const std::string&) override {
    return core::Fail(core::ErrorCode::kRefused, std::string("a status store keeps no tallies"));
  }

  // The last update written for `id` (with its expiry), if any.
  std::optional<StatusUpdate> Update(const core::RequestId& id) const {
    core::MutexLock lock(mu_);
    auto it = records_.find(id.ToString());
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t size() const {
    core::MutexLock lock(mu_);
    return records_.size();
  }
  void set_fail(bool fail) {
    core::MutexLock lock(mu_);
    fail_ = fail;
  }
  // Hold(true): every Write, waiting or to come, blocks until Hold(false).
  void Hold(bool hold) {
    core::MutexLock lock(mu_);
    hold_ = hold;
    cv_.NotifyAll();
  }
  // Blocks until `n` Write calls have begun.
  void WaitEntered(int n) const {
    core::MutexLock lock(mu_);
    cv_.Wait(lock, [&]() REQUIRES(mu_) { return entered_ >= n; });
  }

 private:
  const std::function<void(bool)> on_write_;
  mutable core::Mutex mu_;
  mutable core::CondVar cv_;
  bool fail_ GUARDED_BY(mu_) = false;
  bool hold_ GUARDED_BY(mu_) = false;
  int entered_ GUARDED_BY(mu_) = 0;
  std::map<std::string, StatusUpdate> records_ GUARDED_BY(mu_);
};

}  // namespace scrutin::ports::testing

// FakeLawSchedule: LawSchedule in memory, for the tests of its readers and writers
// (pipeline/law_control.hpp, the admin handler). A law whose record is sealed (mark_sealed, or a
// FakeVoteRecorder that stored one after set_schedule) refuses Set, as the real stores do. It can
// be down. Thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/mutex.hpp"
#include "ports/law_schedule.hpp"

namespace scrutin::ports::testing {

class FakeLawSchedule : public LawSchedule {
 public:
  struct AuditRow {
    std::string law_id;
    AdminAction action;
    core::Timestamp previous, closes_at;
  };

  core::Result<std::vector<ScheduledClose>> Load() override {
    core::MutexLock lock(mu_);
    if (down_) return core::Fail(core::ErrorCode::kUnavailable, std::string("schedule down"));
    std::vector<ScheduledClose> out;
    for (const auto& [law, at] : closes_) out.push_back({law, at});
    return out;
  }

  core::Status Set(const std::string& law_id, AdminAction action, core::Timestamp previous,
                   core::Timestamp closes_at) override {
    core::MutexLock lock(mu_);
    if (down_) return core::Fail(core::ErrorCode::kUnavailable, std::string("schedule down"));
    if (sealed_.contains(law_id)) {
      return core::Fail(core::ErrorCode::kRefused,
                        "the record of " + law_id + " is sealed: its close cannot move");
    }
    // Stored as the real stores store it: to the millisecond.
    closes_[law_id] = *core::ParseTimestamp(core::FormatTimestamp(closes_at));
    audit_.push_back({law_id, action, previous, closes_at});
    return {};
  }

  // Whether a record built for `law_id` closing at `closes_at` may be stored (nothing moved it
  // elsewhere).
  bool Matches(const std::string& law_id, core::Timestamp closes_at) const {
    core::MutexLock lock(mu_);
    auto it = closes_.find(law_id);
    return it == closes_.end() ||
           core::FormatTimestamp(it->second) == core::FormatTimestamp(closes_at);
  }

  void mark_sealed(const std::string& law_id) {
    core::MutexLock lock(mu_);
    sealed_[law_id] = true;
  }
  void set_down(bool down) {
    core::MutexLock lock(mu_);
    down_ = down;
  }
  std::vector<AuditRow> audit() const {
    core::MutexLock lock(mu_);
    return audit_;
  }

 private:
  mutable core::Mutex mu_;
  std::map<std::string, core::Timestamp> closes_ GUARDED_BY(mu_);
  std::map<std::string, bool> sealed_ GUARDED_BY(mu_);
  std::vector<AuditRow> audit_ GUARDED_BY(mu_);
  bool down_ GUARDED_BY(mu_) = false;
};

}  // namespace scrutin::ports::testing

// LawControl: the emergency close and the extension (docs/operations.md "Emergency close and
// extension"), decided once for both shapes. The admin port calls Close/Extend; every process that
// enforces a law's window or acts at its close keeps its Ballot's closing times in step with the
// shared LawSchedule (Refresh, from a thread every half second: SchedulePoller), so an action takes
// effect on every instance within a second.
//
//   Close(law)          the law closes now. Refused when it has closed already.
//   Extend(law, t)      the law closes at t instead. Refused unless t is later than both now and
//                       the current close; a closed law may be reopened this way until its record
//                       is sealed (the store refuses the move once it is).
//
// Each action is written with its audit row (LawSchedule::Set) before it is applied to this
// process's Ballot, and logged by the caller. Times are kept to the millisecond, as stored.
//
// Thread-safety: every method is thread-safe (actions are serialised by a mutex).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "core/ballot.hpp"
#include "core/mutex.hpp"
#include "core/result.hpp"
#include "ports/law_schedule.hpp"

namespace scrutin::pipeline {

// Why an action was refused, for the admin port's answer.
enum class ControlRefusal : std::uint8_t {
  kUnknownLaw,     // 404 unknown_law
  kLawClosed,      // 409 law_closed: closing a law that has closed
  kTooEarly,       // 422 closes_at_too_early
  kRecordSealed,   // 409 record_sealed
  kUnavailable,    // 503: the schedule's store cannot be written
};

struct ControlError {
  ControlRefusal refusal;
  std::string message;  // one sentence for the operator
};

class LawControl {
 public:
  // `ballot` and `schedule` must outlive the LawControl. `clock`: empty, the system clock.
  LawControl(const core::Ballot& ballot, ports::LawSchedule& schedule,
             std::function<core::Timestamp()> clock = {});

  // The law as it now stands, or why not.
  core::Result<core::Law, ControlError> Close(const std::string& law_id) EXCLUDES(mu_);
  core::Result<core::Law, ControlError> Extend(const std::string& law_id, core::Timestamp closes_at)
      EXCLUDES(mu_);

  // Applies the schedule's closing times to the ballot. Error when it cannot be read (the ballot
  // keeps the times it had).
  core::Status Refresh() EXCLUDES(mu_);

 private:
  core::Result<core::Law, ControlError> Move(const std::string& law_id, ports::AdminAction action,
                                            core::Timestamp closes_at) REQUIRES(mu_);
  core::Timestamp Now() const;

  const core::Ballot& ballot_;
  ports::LawSchedule& schedule_;
  const std::function<core::Timestamp()> clock_;
  core::Mutex mu_;  // one action at a time, and no refresh in the middle of one
};

// A thread that calls control.Refresh() every `period` (500 ms: within a second of an action on
// any instance); `on_error` is told of each failed refresh (the ballot keeps its times).
class SchedulePoller {
 public:
  SchedulePoller(LawControl& control, std::chrono::milliseconds period,
                 std::function<void(const std::string& error)> on_error);
  ~SchedulePoller();  // Stop()
  SchedulePoller(const SchedulePoller&) = delete;
  SchedulePoller& operator=(const SchedulePoller&) = delete;
  void Stop() EXCLUDES(mu_);

 private:
  LawControl& control_;
  const std::chrono::milliseconds period_;
  const std::function<void(const std::string&)> on_error_;
  core::Mutex mu_;
  core::CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace scrutin::pipeline

#include "pipeline/law_control.hpp"

#include <fmt/format.h>

namespace scrutin::pipeline {
namespace {

// To the millisecond: what the stores keep and the API shows.
core::Timestamp Millis(core::Timestamp t) {
  return core::Timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()));
}

}  // namespace

LawControl::LawControl(const core::Ballot& ballot, ports::LawSchedule& schedule,
                       std::function<core::Timestamp()> clock)
    : ballot_(ballot), schedule_(schedule), clock_(std::move(clock)) {}

core::Timestamp LawControl::Now() const { return clock_ ? clock_() : core::Clock::now(); }

core::Result<core::Law, ControlError> LawControl::Close(const std::string& law_id) {
  core::MutexLock lock(mu_);
  const core::Law* law = ballot_.Find(law_id);
  if (law == nullptr) {
    return core::Fail(ControlError{ControlRefusal::kUnknownLaw,
                                   "There is no law with this id on the ballot."});
  }
  const core::Timestamp now = Millis(Now());
  if (law->IsClosed(now)) {
    return core::Fail(ControlError{
        ControlRefusal::kLawClosed,
        fmt::format("{} closed at {} already.", law_id, core::FormatTimestamp(law->ClosesAt()))});
  }
  return Move(law_id, ports::AdminAction::kClose, now);
}

core::Result<core::Law, ControlError> LawControl::Extend(const std::string& law_id,
                                                         core::Timestamp closes_at) {
  core::MutexLock lock(mu_);
  const core::Law* law = ballot_.Find(law_id);
  if (law == nullptr) {
    return core::Fail(ControlError{ControlRefusal::kUnknownLaw,
                                   "There is no law with this id on the ballot."});
  }
  closes_at = Millis(closes_at);
  const core::Timestamp now = Now();
  if (closes_at <= now || closes_at <= law->ClosesAt()) {
    return core::Fail(ControlError{
        ControlRefusal::kTooEarly,
        fmt::format("An extension moves the close later: {} must be after now and after the "
                    "current close, {}.",
                    core::FormatTimestamp(closes_at), core::FormatTimestamp(law->ClosesAt()))});
  }
  return Move(law_id, ports::AdminAction::kExtend, closes_at);
}

core::Result<core::Law, ControlError> LawControl::Move(const std::string& law_id,
                                                      ports::AdminAction action,
                                                      core::Timestamp closes_at) {
  const core::Law& law = *ballot_.Find(law_id);
  if (auto st = schedule_.Set(law_id, action, law.ClosesAt(), closes_at); !st) {
    if (st.code() == core::ErrorCode::kRefused) {
      return core::Fail(ControlError{
          ControlRefusal::kRecordSealed,
          fmt::format("The record of {} is sealed: its close can no longer move.", law_id)});
    }
    return core::Fail(ControlError{
        ControlRefusal::kUnavailable,
        fmt::format("The schedule cannot be written right now ({}); nothing changed.", st.error())});
  }
  ballot_.SetClosesAt(law_id, closes_at);
  return law;
}

core::Status LawControl::Refresh() {
  // Read under the lock: a load that began before an action and ended after it would undo it here.
  core::MutexLock lock(mu_);
  auto closes = schedule_.Load();
  if (!closes) return core::Fail(closes.code(), "cannot read the schedule: " + closes.error());
  for (const auto& c : *closes) ballot_.SetClosesAt(c.law_id, c.closes_at);
  return {};
}

SchedulePoller::SchedulePoller(LawControl& control, std::chrono::milliseconds period,
                               std::function<void(const std::string&)> on_error)
    : control_(control), period_(period), on_error_(std::move(on_error)) {
  thread_ = std::thread([this] {
    core::MutexLock lock(mu_);
    while (!stopping_) {
      lock.Unlock();
      if (auto st = control_.Refresh(); !st && on_error_) on_error_(st.error());
      lock.Lock();
      cv_.WaitFor(lock, period_, [&]() REQUIRES(mu_) { return stopping_; });
    }
  });
}

SchedulePoller::~SchedulePoller() { Stop(); }

void SchedulePoller::Stop() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

}  // namespace scrutin::pipeline

#include "pipeline/cached_tallies.hpp"

#include <fmt/format.h>

namespace scrutin::pipeline {

CachedTallies::CachedTallies(ports::VoteQueries& source, std::vector<std::string> law_ids,
                             Options options)
    : source_(source), law_ids_(std::move(law_ids)), options_(std::move(options)) {
  for (const auto& id : law_ids_) entries_[id].tally.law_id = id;
}

CachedTallies::~CachedTallies() { Stop(); }

CachedTallies::Clock::time_point CachedTallies::Now() const {
  return options_.clock ? options_.clock() : Clock::now();
}

void CachedTallies::Start() {
  RefreshOnce();
  thread_ = std::thread([this] { Loop(); });
}

void CachedTallies::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CachedTallies::RefreshOnce() {
  for (const auto& id : law_ids_) {
    // The read happens outside the lock: readers keep being answered from the previous value.
    auto tally = source_.FindTally(id);
    const auto now = Now();
    std::lock_guard lock(mu_);
    Entry& e = entries_[id];
    if (tally) {
      e.tally = std::move(tally).value();
      e.tally.law_id = id;
      e.read_at = now;
      e.valid = true;
      e.last_error.clear();
    } else {
      e.last_error = tally.error();
    }
  }
}

void CachedTallies::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, options_.refresh_period, [&] { return stopping_; })) break;
    lock.unlock();
    RefreshOnce();
    lock.lock();
  }
}

core::Result<std::optional<ports::StatusRecord>> CachedTallies::FindStatus(
    const core::RequestId& id) {
  return source_.FindStatus(id);
}

core::Result<ports::Tally> CachedTallies::FindTally(const std::string& law_id) {
  const auto now = Now();
  std::lock_guard lock(mu_);
  auto it = entries_.find(law_id);
  if (it == entries_.end()) return core::Fail("no tally is kept for " + law_id);
  const Entry& e = it->second;
  if (!e.valid) {
    return core::Fail("the tally of " + law_id + " has not been read yet" +
                      (e.last_error.empty() ? "" : ": " + e.last_error));
  }
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - e.read_at);
  if (age > options_.max_age) {
    return core::Fail(fmt::format("the tally of {} was last read {} ms ago (bound {} ms){}", law_id,
                                  age.count(), options_.max_age.count(),
                                  e.last_error.empty() ? "" : ": " + e.last_error));
  }
  return e.tally;
}

}  // namespace scrutin::pipeline

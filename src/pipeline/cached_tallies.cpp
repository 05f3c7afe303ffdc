#include "pipeline/cached_tallies.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "core/mutex.hpp"

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
  {
    core::MutexLock lock(mu_);
    started_ = true;
  }
  thread_ = std::thread([this] { Loop(); });
  expire_thread_ = std::thread([this] { ExpireLoop(); });
}

void CachedTallies::Stop() {
  std::vector<Waiter> left;
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
  if (expire_thread_.joinable()) expire_thread_.join();
  {
    core::MutexLock lock(mu_);
    left.swap(waiters_);
  }
  AnswerFromCache(left);
}

void CachedTallies::ReadFresh(const std::string& law_id, TallyCallback done) {
  {
    core::MutexLock lock(mu_);
    if (started_ && !stopping_ && waiters_.size() < options_.max_waiters) {
      // Answered by the end of the next round to begin: its read starts after this call.
      waiters_.push_back(
          {law_id, std::move(done), rounds_begun_ + 1, Clock::now() + options_.fresh_wait});
      cv_.NotifyAll();
      return;
    }
  }
  done(FindTally(law_id));
}

void CachedTallies::AnswerFromCache(std::vector<Waiter>& waiters) {
  for (auto& w : waiters) w.done(FindTally(w.law_id));
  waiters.clear();
}

void CachedTallies::RefreshOnce() {
  // The read happens outside the lock: readers keep being answered from the previous values.
  auto tallies = source_.FindTallies(law_ids_);
  const auto now = Now();
  core::MutexLock lock(mu_);
  for (std::size_t i = 0; i < law_ids_.size(); ++i) {
    Entry& e = entries_[law_ids_[i]];
    if (tallies && i < tallies->size()) {
      e.tally = (*tallies)[i];
      e.tally.law_id = law_ids_[i];
      e.read_at = now;
      e.valid = true;
      e.last_error.clear();
    } else {
      e.last_error = tallies ? "the store returned fewer tallies than asked" : tallies.error();
    }
  }
}

void CachedTallies::Loop() {
  core::MutexLock lock(mu_);
  auto last_start = Clock::now();
  while (!stopping_) {
    // A round every refresh_period, or sooner (min_interval after the last) when someone waits.
    cv_.WaitUntil(lock, last_start + options_.refresh_period,
                  [&]() REQUIRES(mu_) { return stopping_ || !waiters_.empty(); });
    if (stopping_) break;
    if (!waiters_.empty()) {
      cv_.WaitUntil(lock, last_start + options_.min_interval,
                    [&]() REQUIRES(mu_) { return stopping_; });
      if (stopping_) break;
    }
    last_start = Clock::now();
    const std::uint64_t round = ++rounds_begun_;
    lock.Unlock();
    RefreshOnce();
    lock.Lock();
    // Everyone who waited for this round (or an earlier one) is answered from what it read.
    std::vector<Waiter> done;
    auto keep = std::partition(waiters_.begin(), waiters_.end(),
                               [&](const Waiter& w) { return w.round > round; });
    std::move(keep, waiters_.end(), std::back_inserter(done));
    waiters_.erase(keep, waiters_.end());
    lock.Unlock();
    AnswerFromCache(done);
    lock.Lock();
  }
}

void CachedTallies::ExpireLoop() {
  core::MutexLock lock(mu_);
  while (!stopping_) {
    cv_.WaitFor(lock, options_.fresh_wait / 4, [&]() REQUIRES(mu_) { return stopping_; });
    const auto now = Clock::now();
    std::vector<Waiter> late;
    auto keep = std::partition(waiters_.begin(), waiters_.end(),
                               [&](const Waiter& w) { return w.deadline > now; });
    std::move(keep, waiters_.end(), std::back_inserter(late));
    waiters_.erase(keep, waiters_.end());
    if (late.empty()) continue;
    lock.Unlock();
    AnswerFromCache(late);
    lock.Lock();
  }
}

core::Result<std::optional<ports::StatusRecord>> CachedTallies::FindStatus(
    const core::RequestId& id) {
  return source_.FindStatus(id);
}

core::Result<std::optional<std::string>> CachedTallies::FindReceipt(const std::string& receipt) {
  return source_.FindReceipt(receipt);
}

core::Result<std::optional<core::PublishedRecord>> CachedTallies::FindRecord(
    const std::string& law_id) {
  return source_.FindRecord(law_id);
}

core::Result<ports::Tally> CachedTallies::FindTally(const std::string& law_id) {
  const auto now = Now();
  core::MutexLock lock(mu_);
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

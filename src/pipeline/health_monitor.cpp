#include "pipeline/health_monitor.hpp"

#include <fmt/format.h>

#include "core/mutex.hpp"

namespace scrutin::pipeline {

HealthMonitor::HealthMonitor(std::vector<Probe> probes, Options options)
    : probes_(std::move(probes)), options_(options), states_(probes_.size()) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  threads_.reserve(probes_.size());
  for (std::size_t i = 0; i < probes_.size(); ++i) {
    if (!probes_[i].local) threads_.emplace_back([this, i] { Loop(i); });
  }
  core::MutexLock lock(mu_);
  cv_.WaitFor(lock, options_.first_wait, [&]() REQUIRES(mu_) {
    for (std::size_t i = 0; i < probes_.size(); ++i) {
      if (!probes_[i].local && !states_[i].answered) return stopping_;
    }
    return true;
  });
}

void HealthMonitor::Stop() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void HealthMonitor::Loop(std::size_t index) {
  core::MutexLock lock(mu_);
  while (!stopping_) {
    states_[index].running = true;
    states_[index].started_at = Clock::now();
    lock.Unlock();
    std::vector<ports::HealthCheck> checks = probes_[index].run();
    lock.Lock();
    State& s = states_[index];
    s.last = std::move(checks);
    s.running = false;
    s.answered = true;
    cv_.NotifyAll();
    cv_.WaitFor(lock, options_.period, [&]() REQUIRES(mu_) { return stopping_; });
  }
}

std::vector<ports::HealthCheck> HealthMonitor::Checks() const {
  // The local probes first, outside the lock (they take their own).
  std::vector<std::vector<ports::HealthCheck>> local(probes_.size());
  for (std::size_t i = 0; i < probes_.size(); ++i) {
    if (probes_[i].local) local[i] = probes_[i].run();
  }
  std::vector<ports::HealthCheck> out;
  const auto now = Clock::now();
  core::MutexLock lock(mu_);
  for (std::size_t i = 0; i < probes_.size(); ++i) {
    if (probes_[i].local) {
      out.insert(out.end(), local[i].begin(), local[i].end());
      continue;
    }
    const State& s = states_[i];
    const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.started_at);
    const bool late = s.running && silent > options_.stale_after;
    if (!s.answered) {
      out.push_back({probes_[i].name, false,
                     late ? fmt::format("no answer from the probe for {} ms", silent.count())
                          : std::string("not probed yet")});
      continue;
    }
    if (late) {
      for (const auto& c : s.last) {
        out.push_back({c.name, false,
                       fmt::format("no answer from the probe for {} ms (last: {})", silent.count(),
                                   c.ok ? std::string("ok") : c.detail)});
      }
      if (s.last.empty()) {
        out.push_back({probes_[i].name, false,
                       fmt::format("no answer from the probe for {} ms", silent.count())});
      }
      continue;
    }
    out.insert(out.end(), s.last.begin(), s.last.end());
  }
  return out;
}

}  // namespace scrutin::pipeline

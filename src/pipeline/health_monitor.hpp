// HealthMonitor: a process's dependency checks, probed in the background so that a health request
// never waits on a backend. A health endpoint answered by calling the backends on its HTTP thread
// stalls that thread (and every connection it serves) as long as a backend does not answer; here
// it reads the last results in memory.
//
// Each probe runs on its own thread, `period` after its previous answer, so one probe hanging on a
// stopped backend does not hold the others up. A probe still running stale_after after it started
// has its checks reported failing ("no answer from the probe for N ms"): a hung backend shows as
// failing within period + stale_after, then as whatever the probe says once it answers again.
//
// Thread-safety: Checks() is thread-safe. Start and Stop are called by the owner.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::pipeline {

class HealthMonitor {
 public:
  using Clock = std::chrono::steady_clock;
  struct Probe {
    // The check's name until the probe first answers (then the names it returns are used).
    std::string name;
    // Probes the dependency; may block (bounded by its client's timeouts, ideally). It returns
    // one or more checks whose detail is for the operator only.
    std::function<std::vector<ports::HealthCheck>()> run;
    // True for a probe that only reads state in memory (never blocks, e.g. whether the broker
    // connections are up): it is run by Checks() itself, so its answer is never a period late.
    bool local = false;
  };
  struct Options {
    std::chrono::milliseconds period{1000};
    std::chrono::milliseconds stale_after{2000};
    // Start waits at most this long for every probe's first answer.
    std::chrono::milliseconds first_wait{3000};
  };

  HealthMonitor(std::vector<Probe> probes, Options options);
  // Stop().
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Starts one thread per (non-local) probe and waits (up to first_wait) until each has answered
  // once, so the first health request sees real results. Call once.
  void Start();
  // Stops the threads; waits for probes in progress to return. Idempotent.
  void Stop();

  // The last result of every probe, in the order of the probes (a local probe is run now): a
  // probe that never answered is
  // {name, false, "not probed yet"}; one that has been running for more than stale_after has each
  // of its last checks reported failing, with how long it has been silent. Never calls a probe.
  std::vector<ports::HealthCheck> Checks() const;

 private:
  struct State {
    std::vector<ports::HealthCheck> last;
    Clock::time_point started_at{};  // of the probe running, or of the last one
    bool running = false;
    bool answered = false;
  };
  void Loop(std::size_t index);

  const std::vector<Probe> probes_;
  const Options options_;
  mutable core::Mutex mu_;
  core::CondVar cv_;                           // stop requests and first answers
  std::vector<State> states_ GUARDED_BY(mu_);  // one per probe
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace scrutin::pipeline

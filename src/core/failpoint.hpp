// Failpoints: a TEST HOOK that lets the chaos tests crash a process at a precise step of the
// pipeline, to prove that no vote is lost or counted twice whatever step a crash interrupts.
//
// The environment variable SCRUTIN_FAILPOINT=<name>[@N] arms one point for the whole process: the
// N-th time (default: the first) the process reaches Failpoint("<name>"), it kills itself with
// SIGKILL — no destructor, no flush, no ack, exactly like a power cut or the OOM killer. The
// variable is read once, at the first Failpoint() call; with it unset a call costs one load of a
// static flag. Names in use (see the callers): validator.after_claim, validator.after_publish,
// aggregator.after_commit, api.after_confirm.
//
// Never set SCRUTIN_FAILPOINT in production. Thread-safe.
#pragma once

#include <signal.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace scrutin::core {

namespace failpoint_detail {

struct Armed {
  std::string name;       // empty: no failpoint armed
  std::uint64_t nth = 1;  // kill on this hit
  std::atomic<std::uint64_t> hits{0};

  Armed() {
    const char* env = std::getenv("SCRUTIN_FAILPOINT");
    if (env == nullptr || *env == '\0') return;
    std::string_view spec(env);
    auto at = spec.find('@');
    name = std::string(spec.substr(0, at));
    if (at != std::string_view::npos) {
      std::string_view n = spec.substr(at + 1);
      std::uint64_t value = 0;
      auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), value);
      // A malformed count arms nothing rather than crashing somewhere unexpected.
      if (ec != std::errc() || ptr != n.data() + n.size() || value == 0) {
        name.clear();
        return;
      }
      nth = value;
    }
  }
};

inline Armed& Get() {
  static Armed armed;
  return armed;
}

}  // namespace failpoint_detail

// Kills the process with SIGKILL if `name` is the armed failpoint and this is its N-th hit.
inline void Failpoint(std::string_view name) {
  auto& armed = failpoint_detail::Get();
  if (armed.name.empty() || armed.name != name) return;
  if (armed.hits.fetch_add(1) + 1 == armed.nth) raise(SIGKILL);
}

// The failpoint armed by SCRUTIN_FAILPOINT (empty when none), for a start-up log line.
inline std::string_view ArmedFailpoint() { return failpoint_detail::Get().name; }

}  // namespace scrutin::core

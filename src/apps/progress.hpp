// A one-line progress bar for long offline jobs (hashgen, voters generate, bulk loads).
//
// It draws on stderr, and only when stderr is a terminal: piped or logged output stays free of
// carriage returns, and scripts see only the commands' own summary lines. Redraws are limited to
// about ten a second, so Update() may be called as often as convenient.
// Private to src/apps: other modules use its public headers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/mutex.hpp"

namespace scrutin::apps {

class ProgressBar {
 public:
  // `total` is the amount of work in `unit`s (e.g. "rows", "MiB"); 0 when unknown, in which case
  // the bar shows the count and the rate only. Draws nothing unless `enabled`.
  ProgressBar(std::string label, std::uint64_t total, std::string unit,
              bool enabled = StderrIsTerminal());
  // Finish() if not done yet.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Records `done` units of work and redraws if the last redraw is old enough. Thread-safe; a
  // caller that finds another thread drawing skips its own redraw.
  void Update(std::uint64_t done);
  // Draws the final state and ends the line. Idempotent. Call from one thread.
  void Finish();

  bool enabled() const { return enabled_; }
  static bool StderrIsTerminal();

  // The text of one frame, without the leading carriage return; `width` is the terminal width.
  // Pure: exposed for tests.
  static std::string Render(std::string_view label, std::uint64_t done, std::uint64_t total,
                            std::string_view unit, double elapsed_seconds, int width);

 private:
  void Draw(std::uint64_t done);

  std::string label_;
  std::string unit_;
  std::uint64_t total_;
  bool enabled_;
  bool finished_ GUARDED_BY(draw_mutex_) = false;
  int width_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<std::int64_t> next_draw_ns_{0};
  std::atomic<std::uint64_t> done_{0};
  core::Mutex draw_mutex_;
};

// "1.2 s", "3 min 04 s": for the summary lines of long commands.
std::string FormatDuration(double seconds);

}  // namespace scrutin::apps

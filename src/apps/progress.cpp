#include "apps/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/mutex.hpp"

namespace scrutin::apps {
namespace {

constexpr std::int64_t kRedrawIntervalNs = 100'000'000;

int TerminalWidth() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

// "8.0M", "512.0k", "999": compact counts.
std::string Compact(double v) {
  char buf[32];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.1fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  } else if (v >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

}  // namespace

std::string FormatDuration(double seconds) {
  char buf[48];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  } else if (seconds < 3600) {
    long s = std::lround(seconds);
    std::snprintf(buf, sizeof buf, "%ld min %02ld s", s / 60, s % 60);
  } else {
    long s = std::lround(seconds);
    std::snprintf(buf, sizeof buf, "%ld h %02ld min", s / 3600, (s / 60) % 60);
  }
  return buf;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total, std::string unit, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      width_(enabled ? TerminalWidth() : 80),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { Finish(); }

bool ProgressBar::StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string ProgressBar::Render(std::string_view label, std::uint64_t done, std::uint64_t total,
                                std::string_view unit, double elapsed, int width) {
  std::string right;
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::string suffix = unit.empty() ? "" : " " + std::string(unit);
  if (total > 0) {
    done = std::min(done, total);
    right = Compact(static_cast<double>(done)) + "/" + Compact(static_cast<double>(total)) + suffix;
  } else {
    right = Compact(static_cast<double>(done)) + suffix;
  }
  if (rate > 0) right += "  " + Compact(rate) + suffix + "/s";
  if (total > 0 && rate > 0 && done < total) {
    right += "  ETA " + FormatDuration(static_cast<double>(total - done) / rate);
  }
  std::string out(label);
  out += ' ';
  if (total > 0) {
    const double fraction = static_cast<double>(done) / static_cast<double>(total);
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(fraction * 100));
    // The bar gets the room left beside a fixed budget for the text on its right, so that it
    // keeps its width while that text changes.
    constexpr int kRightBudget = 56;
    int room = width - 1 - static_cast<int>(out.size()) - kRightBudget;
    int cells = std::clamp(room, 10, 40);
    int filled = static_cast<int>(fraction * cells);
    out += '[';
    out.append(static_cast<std::size_t>(filled), '#');
    out.append(static_cast<std::size_t>(cells - filled), '.');
    out += "] ";
    out += pct;
    out += "  ";
  }
  out += right;
  if (static_cast<int>(out.size()) > width - 1) out.resize(static_cast<std::size_t>(width - 1));
  return out;
}

void ProgressBar::Update(std::uint64_t done) {
  if (!enabled_) return;
  done_.store(done, std::memory_order_relaxed);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - start_)
                               .count();
  std::int64_t due = next_draw_ns_.load(std::memory_order_relaxed);
  if (now < due) return;
  if (!next_draw_ns_.compare_exchange_strong(due, now + kRedrawIntervalNs)) return;
  // Another thread drawing now: skip this frame rather than wait.
  if (!draw_mutex_.TryLock()) return;
  if (!finished_) Draw(done_.load(std::memory_order_relaxed));
  draw_mutex_.Unlock();
}

void ProgressBar::Draw(std::uint64_t done) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string frame = "\r" + Render(label_, done, total_, unit_, elapsed, width_) + "\x1b[K";
  std::fputs(frame.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (!enabled_) return;
  core::MutexLock lock(draw_mutex_);
  if (finished_) return;
  finished_ = true;
  Draw(done_.load());
  std::fputs("\n", stderr);
  std::fflush(stderr);
}

}  // namespace scrutin::apps

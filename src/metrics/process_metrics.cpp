#include "metrics/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <string>

namespace scrutin::metrics {
namespace {

// The whole of a small file (procfs files report size 0: read until EOF). Empty on error.
std::string ReadSmallFile(const char* path) {
  std::string out;
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) return out;
  char buf[4096];
  for (;;) {
    std::size_t n = std::fread(buf, 1, sizeof buf, f);
    out.append(buf, n);
    if (n < sizeof buf) break;
  }
  std::fclose(f);
  return out;
}

template <typename T>
bool ParseNumber(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Open descriptors: the entries of /proc/self/fd (the directory's own descriptor included, as the
// client libraries count it). 0 when it cannot be listed.
double CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

double MaxFds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  // RLIM_INFINITY is reported as is (client_golang does the same: a very large number).
  return static_cast<double>(limit.rlim_cur);
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view content) {
  const std::size_t paren = content.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = content.substr(paren + 1);
  // Field 3 (state) is the first token after the command name.
  ProcStat s;
  int field = 2;
  bool have_rss = false;
  while (!rest.empty() && !have_rss) {
    std::size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    std::size_t end = rest.find_first_of(" \n");
    std::string_view token = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    ++field;
    bool ok = true;
    switch (field) {
      case 14:
        ok = ParseNumber(token, s.utime_ticks);
        break;
      case 15:
        ok = ParseNumber(token, s.stime_ticks);
        break;
      case 22:
        ok = ParseNumber(token, s.start_ticks);
        break;
      case 23:
        ok = ParseNumber(token, s.vsize_bytes);
        break;
      case 24:
        ok = ParseNumber(token, s.rss_pages);
        have_rss = ok;
        break;
      default:
        break;
    }
    if (!ok) return std::nullopt;
  }
  if (!have_rss) return std::nullopt;
  return s;
}

std::optional<std::int64_t> ParseBootTime(std::string_view proc_stat) {
  std::size_t pos = 0;
  while (pos < proc_stat.size()) {
    std::size_t end = proc_stat.find('\n', pos);
    if (end == std::string_view::npos) end = proc_stat.size();
    std::string_view line = proc_stat.substr(pos, end - pos);
    pos = end + 1;
    if (!line.starts_with("btime ")) continue;
    line.remove_prefix(6);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    std::int64_t v = 0;
    if (ParseNumber(line, v)) return v;
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<ProcessStats> ReadProcessStats() {
  auto stat = ParseProcStat(ReadSmallFile("/proc/self/stat"));
  if (!stat) return std::nullopt;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  const double tick_seconds = ticks > 0 ? 1.0 / static_cast<double>(ticks) : 0.01;
  ProcessStats out;
  out.cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) * tick_seconds;
  out.resident_memory_bytes =
      static_cast<double>(stat->rss_pages) * static_cast<double>(page > 0 ? page : 4096);
  out.virtual_memory_bytes = static_cast<double>(stat->vsize_bytes);
  if (auto boot = ParseBootTime(ReadSmallFile("/proc/stat"))) {
    out.start_time_seconds =
        static_cast<double>(*boot) + static_cast<double>(stat->start_ticks) * tick_seconds;
  }
  out.open_fds = CountOpenFds();
  out.max_fds = MaxFds();
  return out;
}

ProcessMetrics::ProcessMetrics(Registry& r)
    : registry_(r),
      cpu_seconds_(r.AddCounterFromSource("process_cpu_seconds_total",
                                          "Total user and system CPU time spent in seconds.")
                       .Get()),
      resident_memory_(
          r.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.").Get()),
      virtual_memory_(
          r.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").Get()),
      start_time_(r.AddGauge("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.")
                      .Get()),
      open_fds_(r.AddGauge("process_open_fds", "Number of open file descriptors.").Get()),
      max_fds_(r.AddGauge("process_max_fds", "Maximum number of open file descriptors.").Get()) {
  Refresh();
  collector_ = r.AddCollector([this] { Refresh(); });
}

ProcessMetrics::~ProcessMetrics() { registry_.RemoveCollector(collector_); }

void ProcessMetrics::Refresh() {
  auto stats = ReadProcessStats();
  if (!stats) return;  // keep the last values: the scrape must not fail for this
  cpu_seconds_.Set(stats->cpu_seconds);
  resident_memory_.Set(stats->resident_memory_bytes);
  virtual_memory_.Set(stats->virtual_memory_bytes);
  // Constant for the process's life; /proc/stat is read again only until it is known.
  if (start_time_.Value() == 0) start_time_.Set(stats->start_time_seconds);
  open_fds_.Set(stats->open_fds);
  max_fds_.Set(stats->max_fds);
}

}  // namespace scrutin::metrics

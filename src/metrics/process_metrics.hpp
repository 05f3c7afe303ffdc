// The standard process series of the Prometheus client libraries, with their names and meanings
// (client_golang's process collector, prometheus_client's ProcessCollector), for every scrutin
// process, read from Linux's /proc at scrape time:
//
//   process_cpu_seconds_total       user + system CPU time spent, seconds   (/proc/self/stat)
//   process_resident_memory_bytes   resident set size, bytes                 (/proc/self/stat rss)
//   process_virtual_memory_bytes    virtual memory size, bytes               (/proc/self/stat vsize)
//   process_start_time_seconds      start of the process, seconds since the Unix epoch
//                                   (/proc/self/stat starttime + /proc/stat btime)
//   process_open_fds                open file descriptors                    (/proc/self/fd)
//   process_max_fds                 the soft limit on file descriptors       (getrlimit NOFILE)
//
// Dashboards use them for per-process CPU (rate of the first), memory, fd headroom and restarts
// (changes() of the start time). Where /proc cannot be read (not Linux, a sandbox) the series
// stay registered and keep their last values (0 at first), so a scrape never fails for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "metrics/registry.hpp"

namespace scrutin::metrics {

// The fields of /proc/<pid>/stat that the collector uses (proc(5)).
struct ProcStat {
  std::uint64_t utime_ticks = 0;   // field 14
  std::uint64_t stime_ticks = 0;   // field 15
  std::uint64_t start_ticks = 0;   // field 22: clock ticks after boot
  std::uint64_t vsize_bytes = 0;   // field 23
  std::int64_t rss_pages = 0;      // field 24
};

// Parses the content of /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses: fields are counted from its last ')'. nullopt when a field is missing or malformed.
std::optional<ProcStat> ParseProcStat(std::string_view content);

// The boot time (`btime` line of /proc/stat), seconds since the Unix epoch.
std::optional<std::int64_t> ParseBootTime(std::string_view proc_stat);

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double start_time_seconds = 0;
  double open_fds = 0;
  double max_fds = 0;
};

// This process's statistics, from /proc/self and getrlimit; nullopt when /proc/self/stat cannot
// be read. start_time_seconds is 0 when /proc/stat has no btime; open_fds is 0 when /proc/self/fd
// cannot be listed.
std::optional<ProcessStats> ReadProcessStats();

// Registers the six process_* series on a registry and a collector that refreshes them at each
// scrape (one read of /proc/self/stat, one listing of /proc/self/fd, one getrlimit: microseconds).
// The destructor removes the collector. Throws std::invalid_argument if the series already exist
// on the registry (one ProcessMetrics per registry: metrics::VoteMetrics owns it).
class ProcessMetrics {
 public:
  explicit ProcessMetrics(Registry& registry);
  ~ProcessMetrics();
  ProcessMetrics(const ProcessMetrics&) = delete;
  ProcessMetrics& operator=(const ProcessMetrics&) = delete;

  // Reads /proc and sets the gauges (what the collector does before every scrape).
  void Refresh();

 private:
  Registry& registry_;
  Gauge& cpu_seconds_;  // rendered as a counter (Registry::AddCounterFromSource)
  Gauge& resident_memory_;
  Gauge& virtual_memory_;
  Gauge& start_time_;
  Gauge& open_fds_;
  Gauge& max_fds_;
  Registry::CollectorId collector_ = 0;
};

}  // namespace scrutin::metrics

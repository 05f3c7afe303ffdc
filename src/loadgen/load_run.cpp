#include "loadgen/load_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "loadgen/electorate.hpp"
#include "loadgen/tls_client.hpp"
#include "loadgen/verification.hpp"
#include "loadgen/vote_workload.hpp"

namespace scrutin::loadgen {
namespace {

void PrintProgress(const Engine& engine, std::uint64_t& last_answered, double& last_t) {
  const EngineTotals t = engine.Totals();
  LatencyHistogram h;
  engine.MergeLatency(h);
  const double now = std::chrono::duration<double>(engine.Elapsed()).count();
  const double rate = now > last_t ? (t.answered - last_answered) / (now - last_t) : 0;
  last_answered = t.answered;
  last_t = now;
  std::uint64_t errors = t.timeouts + t.io_errors;
  for (std::size_t s = 500; s < 600; ++s) errors += t.by_status[s];
  errors += t.by_status[429];
  std::fprintf(stderr, "\r\033[K%7.1fs  %9llu answered  %8.0f/s  errors %llu  p99 %.2f ms", now,
               static_cast<unsigned long long>(t.answered), rate,
               static_cast<unsigned long long>(errors), h.Percentile(99) / 1000.0);
  std::fflush(stderr);
}

}  // namespace

core::Result<LoadReport> RunLoad(const LoadOptions& options) {
  if (options.duration_s.has_value() == options.votes.has_value()) {
    return core::Fail(std::string("give exactly one of --duration and --votes"));
  }
  if (options.rate < 0 || !std::isfinite(options.rate)) {
    return core::Fail(std::string("--rate must be a positive number or 'max'"));
  }
  if (options.duration_s && !(*options.duration_s > 0)) {
    return core::Fail(std::string("--duration must be positive"));
  }
  if (options.votes && *options.votes == 0) return core::Fail(std::string("--votes must be >= 1"));
  if (options.threads == 0 || options.connections == 0) {
    return core::Fail(std::string("--threads and --connections must be >= 1"));
  }
  if (options.targets.empty()) return core::Fail(std::string("give at least one --target"));
  std::vector<Target> targets;
  std::shared_ptr<boost::asio::ssl::context> tls;  // one for every https target
  for (const auto& url : options.targets) {
    auto target = ParseTarget(url);
    if (!target.ok()) return core::Fail(target.error());
    if (target->https) {
      if (!tls) {
        auto made = MakeClientTlsContext(options.cacert);
        if (!made.ok()) return core::Fail(made.error());
        tls = std::move(*made);
      }
      target->tls = tls;
    }
    targets.push_back(std::move(*target));
  }
  if (!tls && !options.cacert.empty()) {
    return core::Fail(std::string("--cacert is for https targets; every --target is http://"));
  }
  auto electorate = LoadElectorate(options.voters, options.registry_offset);
  if (!electorate.ok()) return core::Fail(electorate.error());
  const double valid_share = options.mix.share(RequestKind::kValid);
  if (valid_share > 0 && electorate->pool.empty()) {
    return core::Fail(fmt::format(
        "no voter left: the registry {} has {} rows and --registry-offset {} skips them all, so "
        "there is no unused row to vote with (use a larger registry or a lower offset)",
        options.voters.string(), electorate->rows, options.registry_offset));
  }
  if (options.votes && valid_share > 0) {
    const double needed = std::ceil(static_cast<double>(*options.votes) * valid_share);
    if (needed > static_cast<double>(electorate->pool.size())) {
      return core::Fail(fmt::format(
          "--voters has {} unused registry rows after --registry-offset {}, but --votes {} with "
          "valid={} needs about {:.0f}",
          electorate->pool.size(), options.registry_offset, *options.votes, valid_share, needed));
    }
  }

  LoadReport report;
  report.targets = options.targets;
  for (const auto& url : options.targets) {
    if (!report.target.empty()) report.target += ',';
    report.target += url;
  }
  report.open_loop = options.rate > 0;
  report.rate = options.rate;
  report.threads = std::min(options.threads, options.connections);
  report.connections = options.connections;
  report.mix = options.mix.ToString();
  report.seed = options.seed;
  report.registry_rows = electorate->rows;
  report.registry_first = options.registry_offset;

  const std::string host_header = targets.front().host_header;
  VoteRun run{options, *electorate, std::move(targets), PostHead(options.path, host_header)};
  if (options.verify) {
    auto before = ReadTallies(run.targets, electorate->laws, options.timeout);
    if (!before.ok()) return core::Fail(fmt::format("--verify: {}", before.error()));
    report.tally_before = std::move(*before);
  }

  EngineOptions eo;
  eo.targets = run.targets;
  eo.threads = report.threads;
  eo.connections = options.connections;
  eo.rate = options.rate;
  eo.max_requests = options.votes.value_or(0);
  if (options.duration_s) {
    eo.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(*options.duration_s * 1e9));
  }
  eo.timeout = options.timeout;
  Engine engine(eo, [&run](unsigned t) { return std::make_unique<VoteWorkload>(run, t); });
  if (auto st = engine.Start(); !st.ok()) return core::Fail(st.error());

  std::uint64_t last_answered = 0;
  double last_t = 0;
  auto next_progress = SteadyClock::now() + std::chrono::seconds(1);
  while (!engine.WaitFor(std::chrono::milliseconds(100))) {
    if (options.interrupted && !report.interrupted && options.interrupted()) {
      report.interrupted = true;
      engine.RequestStop();
    }
    if (options.progress && SteadyClock::now() >= next_progress) {
      next_progress += std::chrono::seconds(1);
      PrintProgress(engine, last_answered, last_t);
    }
  }
  if (options.progress) {
    PrintProgress(engine, last_answered, last_t);
    std::fputc('\n', stderr);
  }

  report.elapsed_s = std::chrono::duration<double>(engine.Elapsed()).count();
  report.totals = engine.Totals();
  LatencyHistogram latency;
  engine.MergeLatency(latency);
  report.lat_count = latency.count();
  report.p50 = latency.Percentile(50);
  report.p90 = latency.Percentile(90);
  report.p99 = latency.Percentile(99);
  report.p999 = latency.Percentile(99.9);
  report.lat_max = latency.max();
  report.lat_mean = latency.Mean();

  std::vector<Pending> pending;
  std::uint64_t invalid_not_invalid = 0;
  for (unsigned t = 0; t < engine.threads(); ++t) {
    auto& w = static_cast<VoteWorkload&>(engine.workload(t));
    for (std::size_t k = 0; k < kRequestKinds; ++k) {
      report.sent_by_kind[k] += w.sent[k];
      for (std::size_t s = 0; s < 600; ++s) report.status_by_kind[k][s] += w.status_by_kind[k][s];
    }
    for (std::size_t s = 0; s < 4; ++s) report.status_in_202[s] += w.status_in_202[s];
    report.unreadable_202 += w.unreadable_202;
    invalid_not_invalid += w.invalid_not_invalid;
    report.registry_exhausted = report.registry_exhausted || w.exhausted();
    pending.insert(pending.end(), w.pending.begin(), w.pending.end());
    std::vector<Pending>().swap(w.pending);
  }
  const std::uint64_t used =
      std::min<std::uint64_t>(run.next_valid.load(), run.electorate.pool.size());
  report.registry_next = options.registry_offset + used;
  // A run that ran dry, or sent nothing, measured something else than what was asked: an error,
  // never a report (a row of zeros or a short run would pass for a measurement).
  if (report.registry_exhausted) {
    return core::Fail(fmt::format(
        "ran out of voters after {} requests in {:.1f} s: the registry {} has {} rows and this "
        "run started at --registry-offset {}, leaving {} unused rows for valid votes; use a "
        "larger registry, a lower offset, or a shorter run",
        report.totals.sent, report.elapsed_s, options.voters.string(), electorate->rows,
        options.registry_offset, electorate->pool.size()));
  }
  if (report.totals.sent == 0) {
    return core::Fail(fmt::format("sent no request in {:.1f} s{}: there is no measurement",
                                  report.elapsed_s, report.interrupted ? " (interrupted)" : ""));
  }
  report.ground_truth.resize(electorate->laws.size());
  for (std::size_t l = 0; l < electorate->laws.size(); ++l) {
    report.ground_truth[l].law_id = electorate->laws[l];
  }
  for (std::uint64_t i = 0; i < used; ++i) {
    const PoolEntry& e = run.electorate.pool[i];
    if ((e.flags & kGot202) && !(e.flags & kUnknown)) {
      (e.choice == 0 ? report.ground_truth[e.law].oui : report.ground_truth[e.law].non) += 1;
    }
  }

  if (options.verify) {
    Verify(options, run, pending, report);
    Mismatches mm(report.mismatches);
    CheckAnswers(report, invalid_not_invalid, mm);
    if (mm.count() > 0) report.verify_ok = false;
  }
  return report;
}

}  // namespace scrutin::loadgen

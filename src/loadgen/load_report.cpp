// LoadReport's text and JSON renderings (load_run.hpp).
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "loadgen/load_run.hpp"

namespace scrutin::loadgen {
namespace {

double Ms(std::uint64_t micros) { return micros / 1000.0; }

const char* kStatusNames[4] = {"pending", "accepted", "duplicate", "invalid"};

}  // namespace

std::string LoadReport::ToText() const {
  std::string out;
  auto line = [&out](std::string s) {
    out += s;
    out += '\n';
  };
  line(fmt::format("scrutin loadgen → {}  ({}, connections {}, threads {}, seed {})", target,
                   open_loop ? fmt::format("open loop at {:g} req/s", rate) : "closed loop",
                   connections, threads, seed));
  line(fmt::format("  mix       {}", mix));
  if (interrupted) line("  INTERRUPTED: sending stopped early on request");
  line(fmt::format("  requests  {} sent, {} answered in {:.2f} s = {:.0f} answers/s", totals.sent,
                   totals.answered, elapsed_s, throughput()));
  line(fmt::format("  sent      valid {}  duplicate {}  invalid {}  malformed {}", sent_by_kind[0],
                   sent_by_kind[1], sent_by_kind[2], sent_by_kind[3]));
  std::string http_line = "  http     ";
  for (std::size_t s = 0; s < totals.by_status.size(); ++s) {
    if (totals.by_status[s] != 0) {
      http_line += fmt::format(" {}: {}", s == 0 ? std::string("other") : std::to_string(s),
                               totals.by_status[s]);
    }
  }
  line(http_line);
  line(fmt::format("  202 body  accepted {}  duplicate {}  invalid {}  pending {}",
                   status_in_202[1], status_in_202[2], status_in_202[3], status_in_202[0]));
  line(fmt::format("  failures  timeout {}  io {}  connect {}  reconnects {}  unsent (backlog) {}",
                   totals.timeouts, totals.io_errors, totals.connect_errors, totals.reconnects,
                   totals.unsent));
  line(fmt::format(
      "  latency   p50 {:.3f} ms  p90 {:.3f} ms  p99 {:.3f} ms  p99.9 {:.3f} ms  max {:.3f} ms  "
      "mean {:.3f} ms  ({} answers{})",
      Ms(p50), Ms(p90), Ms(p99), Ms(p999), Ms(lat_max), lat_mean / 1000.0, lat_count,
      open_loop ? ", from the scheduled time" : ""));
  std::string truth = "  truth    ";
  for (const auto& l : ground_truth) {
    truth += fmt::format(" {} oui {} non {};", l.law_id, l.oui, l.non);
  }
  line(truth);
  line(fmt::format("  registry  rows [{}, {}) of {} used as valid votes{}", registry_first,
                   registry_next, registry_rows,
                   registry_exhausted ? " — EXHAUSTED, the run stopped early" : ""));
  if (verified) {
    line(fmt::format("  final     accepted {}  duplicate {}  invalid {}  ({} status polls)",
                     final_status[1], final_status[2], final_status[3], polls));
    if (verify_ok) {
      line(
          "  verify    OK: every 202 is final and accounted for; tallies moved by the ground "
          "truth");
    } else {
      line(fmt::format("  verify    FAILED ({} findings):", mismatches.size()));
      for (const auto& m : mismatches) line("    - " + m);
    }
  }
  return out;
}

nlohmann::json LoadReport::ToJson() const {
  nlohmann::json j;
  j["target"] = target;  // comma-separated: a string, as before several targets were possible
  j["targets"] = targets;
  j["mode"] = open_loop ? "open" : "closed";
  j["rate"] = open_loop ? nlohmann::json(rate) : nlohmann::json("max");
  j["connections"] = connections;
  j["threads"] = threads;
  j["mix"] = mix;
  j["seed"] = seed;
  j["elapsed_s"] = elapsed_s;
  j["interrupted"] = interrupted;
  j["sent"] = totals.sent;
  j["answered"] = totals.answered;
  j["throughput_rps"] = throughput();
  nlohmann::json kinds;
  for (std::size_t k = 0; k < kRequestKinds; ++k) {
    kinds[std::string(ToString(static_cast<RequestKind>(k)))] = sent_by_kind[k];
  }
  j["sent_by_kind"] = kinds;
  nlohmann::json http_status = nlohmann::json::object();
  for (std::size_t s = 0; s < totals.by_status.size(); ++s) {
    if (totals.by_status[s] != 0) {
      http_status[s == 0 ? std::string("other") : std::to_string(s)] = totals.by_status[s];
    }
  }
  j["http_status"] = http_status;
  nlohmann::json in202;
  for (std::size_t s = 0; s < 4; ++s) in202[kStatusNames[s]] = status_in_202[s];
  j["vote_status_in_202"] = in202;
  j["unreadable_202"] = unreadable_202;
  j["failures"] = {{"timeout", totals.timeouts},
                   {"io", totals.io_errors},
                   {"connect", totals.connect_errors},
                   {"reconnects", totals.reconnects},
                   {"unsent_backlog", totals.unsent}};
  j["latency_ms"] = {{"count", lat_count},       {"p50", Ms(p50)},    {"p90", Ms(p90)},
                     {"p99", Ms(p99)},           {"p99_9", Ms(p999)}, {"max", Ms(lat_max)},
                     {"mean", lat_mean / 1000.0}};
  nlohmann::json truth = nlohmann::json::object();
  for (const auto& l : ground_truth) truth[l.law_id] = {{"oui", l.oui}, {"non", l.non}};
  j["ground_truth"] = truth;
  j["registry"] = {{"rows", registry_rows},
                   {"first", registry_first},
                   {"next", registry_next},
                   {"exhausted", registry_exhausted}};
  if (verified) {
    nlohmann::json v;
    v["ok"] = verify_ok;
    nlohmann::json fin;
    for (std::size_t s = 1; s < 4; ++s) fin[kStatusNames[s]] = final_status[s];
    v["final_status"] = fin;
    v["polls"] = polls;
    nlohmann::json before = nlohmann::json::object(), after = nlohmann::json::object();
    for (const auto& l : tally_before) {
      before[l.law_id] = {{"oui", l.oui}, {"non", l.non}, {"uncounted", l.uncounted}};
    }
    for (const auto& l : tally_after) {
      after[l.law_id] = {{"oui", l.oui}, {"non", l.non}, {"uncounted", l.uncounted}};
    }
    v["tally_before"] = before;
    v["tally_after"] = after;
    v["mismatches"] = mismatches;
    j["verify"] = v;
  }
  return j;
}

}  // namespace scrutin::loadgen

// `scrutin loadgen`: wiring of the load generator (src/loadgen) to the command line. --target is
// repeatable: several replicas of the service share the connections round-robin.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "apps/commands.hpp"
#include "loadgen/load_run.hpp"

namespace scrutin::apps {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void OnSignal(int) { g_interrupted = 1; }

}  // namespace

void AddLoadgenCommand(CLI::App& app) {
  struct Flags {
    std::vector<std::string> targets = {"http://127.0.0.1:8000"};
    std::string cacert;
    std::string voters;
    std::string rate;
    std::optional<double> duration;
    std::optional<std::uint64_t> votes;
    unsigned connections = 64;
    unsigned threads = 1;
    std::string mix = "valid=0.9,duplicate=0.05,invalid=0.03,malformed=0.02";
    std::string json;
    bool verify = false;
    std::uint64_t seed = 1;
    std::string path = "/api/v1/vote";
    std::uint64_t registry_offset = 0;
    double timeout = 10;
    double verify_timeout = 120;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "loadgen",
      "HTTP load generator for the vote API: open loop at a fixed rate (latency from the scheduled "
      "time) or closed loop (--rate max), with a vote mix and an optional end-to-end verification");
  cmd->add_option("--target", flags->targets,
                  "Base URL of the server, http:// or https://. Repeat it for several replicas of "
                  "the same service: "
                  "the connections are spread round-robin over the targets (connection k to "
                  "target k mod n, always reconnecting to it), each thread sends its requests to "
                  "the targets in turn and to the others while one has no open connection (give "
                  "at least threads x targets connections), requests carry the first target's "
                  "Host header, and --verify uses the first target that can be reached")
      ->capture_default_str()
      ->allow_extra_args(false);
  cmd->add_option("--cacert", flags->cacert,
                  "For https:// targets: PEM file of the CA(s) that signed the server's "
                  "certificate (default: the system's store). The certificate must name the "
                  "target's host, as a browser requires")
      ->check(CLI::ExistingFile);
  cmd->add_option("--voters", flags->voters,
                  "Registry CSV (nas,code,law_id) the server was built from")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--rate", flags->rate, "Requests per second (open loop), or 'max' (closed loop)")
      ->required();
  auto* duration = cmd->add_option("--duration", flags->duration, "Seconds to run");
  auto* votes = cmd->add_option("--votes", flags->votes, "Number of requests to send");
  duration->excludes(votes);
  votes->excludes(duration);
  cmd->add_option("--connections", flags->connections, "Keep-alive connections")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("--threads", flags->threads, "I/O threads (one io_context each)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--mix", flags->mix, "Shares of valid, duplicate, invalid, malformed requests")
      ->capture_default_str();
  cmd->add_option("--json", flags->json, "Also write the report as JSON to this file");
  cmd->add_flag("--verify", flags->verify,
                "After the run, wait for every vote to be final and check the tallies against "
                "the ground truth (exit 1 on a mismatch)");
  cmd->add_option("--seed", flags->seed, "Random seed (mix, choices, credentials)")
      ->capture_default_str();
  cmd->add_option("--path", flags->path, "Path of the vote endpoint")->capture_default_str();
  cmd->add_option("--registry-offset", flags->registry_offset,
                  "Skip the first N registry rows (e.g. used by an earlier run on the same server)")
      ->capture_default_str();
  cmd->add_option("--timeout", flags->timeout, "Seconds before a request counts as timed out")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--verify-timeout", flags->verify_timeout,
                  "Seconds to wait for pending votes to become final")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  cmd->callback([flags] {
    if (!flags->duration && !flags->votes) {
      throw CommandError("loadgen: give --duration SECONDS or --votes N");
    }
    loadgen::LoadOptions o;
    o.targets = flags->targets;
    o.cacert = flags->cacert;
    o.voters = flags->voters;
    if (flags->rate == "max") {
      o.rate = 0;
    } else {
      try {
        std::size_t used = 0;
        o.rate = std::stod(flags->rate, &used);
        if (used != flags->rate.size() || !(o.rate > 0)) throw std::invalid_argument("rate");
      } catch (const std::exception&) {
        throw CommandError("--rate: expected a positive number of requests/s or 'max', got '" +
                           flags->rate + "'");
      }
    }
    o.duration_s = flags->duration;
    o.votes = flags->votes;
    o.connections = flags->connections;
    o.threads = flags->threads;
    auto mix = loadgen::Mix::Parse(flags->mix);
    if (!mix.ok()) throw CommandError(mix.error());
    o.mix = *mix;
    o.verify = flags->verify;
    o.seed = flags->seed;
    o.path = flags->path;
    o.registry_offset = flags->registry_offset;
    o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(flags->timeout * 1000));
    o.verify_timeout = std::chrono::seconds(static_cast<std::int64_t>(flags->verify_timeout));
    o.progress = isatty(STDERR_FILENO) == 1;
    g_interrupted = 0;
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGPIPE, SIG_IGN);
    o.interrupted = [] { return g_interrupted != 0; };

    auto report = loadgen::RunLoad(o);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (!report.ok()) throw CommandError(report.error());
    std::fputs(report->ToText().c_str(), stdout);
    std::fflush(stdout);
    if (!flags->json.empty()) {
      std::ofstream out(flags->json);
      out << report->ToJson().dump(2) << '\n';
      if (!out) throw CommandError("--json: cannot write " + flags->json);
    }
    if (report->verified && !report->verify_ok) {
      throw CommandError("loadgen: verification failed (see the findings above)");
    }
  });
}

}  // namespace scrutin::apps

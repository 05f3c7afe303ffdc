// `scrutin voters generate`: a synthetic voter registry (core/synthetic_registry.hpp).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.hpp"
#include "apps/progress.hpp"
#include "core/synthetic_registry.hpp"

namespace scrutin::apps {
namespace {

struct VotersOptions {
  std::uint64_t count = 0;
  std::vector<std::string> laws;
  std::uint64_t seed = 0;
  std::string out;
};

void RunGenerate(const VotersOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  ProgressBar bar("voters", o.count, "voters");
  auto s = core::WriteSyntheticRegistry(o.out, o.count, o.laws, o.seed,
                                        [&](std::uint64_t n) { bar.Update(n); });
  bar.Finish();
  if (!s) throw CommandError("voters generate: " + s.error());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("voters: wrote %llu voters x %zu law(s) = %llu rows to %s (seed %llu) in %s\n",
              static_cast<unsigned long long>(o.count), o.laws.size(),
              static_cast<unsigned long long>(o.count * o.laws.size()), o.out.c_str(),
              static_cast<unsigned long long>(o.seed), FormatDuration(secs).c_str());
}

}  // namespace

void AddVotersCommand(CLI::App& app) {
  auto* voters = app.add_subcommand("voters", "Synthetic voter registries");
  voters->require_subcommand(1);
  auto* gen = voters->add_subcommand(
      "generate",
      "Write a synthetic registry CSV (nas,code,law_id), deterministic for a given seed");
  auto o = std::make_shared<VotersOptions>();
  gen->add_option("--count", o->count, "Number of voters (each gets one row per law)")
      ->required()
      ->check(CLI::Range(std::uint64_t{1}, core::SyntheticRegistry::kMaxVoters));
  gen->add_option("--law", o->laws, "Law id on the ballot, e.g. L2025-001 (repeatable)")
      ->required();
  gen->add_option("--seed", o->seed, "Seed: the same seed gives the same voters")->required();
  gen->add_option("--out", o->out, "CSV file to write (replaced once complete)")->required();
  gen->callback([o] { RunGenerate(*o); });
}

}  // namespace scrutin::apps

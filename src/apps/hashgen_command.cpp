// `scrutin hashgen`: the offline phase's wiring. Reads the flags and the election key, runs the
// registry through offline::HashRegistry (every credential digest, on all cores; no voter twice
// for a law), sorts the digests and writes the eligibility database (core/hash_database.hpp).
// Nothing is written unless the whole registry is valid.
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "apps/commands.hpp"
#include "apps/progress.hpp"
#include "core/credential.hpp"
#include "core/hash_database.hpp"
#include "core/registry.hpp"
#include "offline/registry_hasher.hpp"

namespace scrutin::apps {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxErrorsShown = 20;

struct HashgenOptions {
  std::string voters;
  std::string key_file;
  std::string scheme = "hmac-sha256";
  std::string out;
  std::uint64_t shard_size = 1'000'000;
  std::string format = "bin";
  unsigned threads = 0;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Fails early, before hours of work, when the output directory cannot be used.
void CheckOutputDir(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out / "manifest.json", ec)) {
    throw CommandError("'" + out.string() + "' already holds a hash database (manifest.json); " +
                       "choose another --out directory or remove it first");
  }
  fs::path probe = out;
  while (!probe.empty() && !fs::exists(probe, ec)) probe = probe.parent_path();
  if (probe.empty()) probe = ".";
  if (!fs::is_directory(probe, ec)) {
    throw CommandError("--out '" + out.string() + "': '" + probe.string() + "' is not a directory");
  }
  if (::access(probe.c_str(), W_OK | X_OK) != 0) {
    throw CommandError("--out '" + out.string() + "': cannot write in '" + probe.string() + "'");
  }
}

std::unique_ptr<core::RegistryReader> OpenRegistry(const std::string& path) {
  auto reader = core::RegistryReader::Open(path);
  if (!reader) throw CommandError("registry '" + path + "': " + reader.error());
  return std::move(*reader);
}

void RunHashgen(const HashgenOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  auto scheme = core::ParseHashScheme(o.scheme);
  if (!scheme) throw CommandError("--scheme must be hmac-sha256 or sha256, not '" + o.scheme + "'");
  auto format = core::ParseShardFormat(o.format);
  if (!format) throw CommandError("--format must be bin or json, not '" + o.format + "'");
  if (o.shard_size == 0) throw CommandError("--shard-size must be at least 1");
  const unsigned threads =
      o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());

  std::vector<std::uint8_t> key;
  if (*scheme == core::HashScheme::kHmacSha256) {
    if (o.key_file.empty()) {
      throw CommandError("--key-file is required with --scheme hmac-sha256 " +
                         std::string("(create one with `scrutin keygen --out FILE`)"));
    }
    auto loaded = core::LoadElectionKey(o.key_file);
    if (!loaded) throw CommandError(loaded.error());
    key = std::move(*loaded);
  } else if (!o.key_file.empty()) {
    std::fprintf(stderr, "scrutin: note: --key-file is not used by --scheme sha256\n");
  }
  auto hasher = core::CredentialHasher::Create(*scheme, key);
  OPENSSL_cleanse(key.data(), key.size());
  if (!hasher) throw CommandError(hasher.error());
  CheckOutputDir(o.out);

  auto reader = OpenRegistry(o.voters);
  offline::HashedRegistry hashed;
  {
    ProgressBar bar("reading", reader->file_size() >> 20, "MiB");
    auto result = offline::HashRegistry(
        *reader, *hasher, threads,
        {.on_bad_row =
             [&](std::uint64_t nth, const std::string& message) {
               if (nth <= kMaxErrorsShown) {
                 std::fprintf(stderr, "scrutin: %s: %s\n", o.voters.c_str(), message.c_str());
               }
             },
         .on_progress = [&](std::uint64_t bytes) { bar.Update(bytes >> 20); }});
    if (!result) throw CommandError("registry '" + o.voters + "': " + result.error());
    hashed = std::move(*result);
    bar.Finish();
  }
  reader.reset();
  const std::uint64_t rows = hashed.rows, bad = hashed.bad, repeats = hashed.repeats;
  std::vector<core::Digest>& digests = hashed.digests;

  if (bad > 0) {
    std::string msg = "registry '" + o.voters + "' has " + std::to_string(bad) + " bad row" +
                      (bad > 1 ? "s" : "");
    if (repeats > 0) {
      msg += " (" + std::to_string(repeats) + " repeating a NAS already listed for the same law: " +
             "each voter must appear once per law)";
    }
    if (bad > kMaxErrorsShown) {
      msg += "; the first " + std::to_string(kMaxErrorsShown) + " are listed above";
    }
    throw CommandError(msg + "; nothing written");
  }
  if (rows == 0) {
    throw CommandError("registry '" + o.voters + "' has a header but no rows; nothing written");
  }

  const double read_seconds = Seconds(start);
  const auto sort_start = std::chrono::steady_clock::now();
  core::SortDigests(digests, threads);
  const double sort_seconds = Seconds(sort_start);

  const auto write_start = std::chrono::steady_clock::now();
  ProgressBar bar("writing", digests.size(), "digests");
  auto manifest = core::WriteHashDatabase(o.out, *scheme, *format, o.shard_size, digests,
                                          [&](std::uint64_t n) { bar.Update(n); });
  bar.Finish();
  if (!manifest) throw CommandError("cannot write the hash database: " + manifest.error());
  std::printf(
      "hashgen: %llu rows -> %llu digests (%s, %s, %zu shard%s) in %s; %s (read+hash %s, sort %s, "
      "write %s)\n",
      static_cast<unsigned long long>(rows), static_cast<unsigned long long>(manifest->count),
      std::string(core::ToString(*scheme)).c_str(), std::string(core::ToString(*format)).c_str(),
      manifest->shards.size(), manifest->shards.size() == 1 ? "" : "s", o.out.c_str(),
      FormatDuration(Seconds(start)).c_str(), FormatDuration(read_seconds).c_str(),
      FormatDuration(sort_seconds).c_str(), FormatDuration(Seconds(write_start)).c_str());
}

}  // namespace

void AddHashgenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "hashgen", "Build the eligibility database (credential digests) from a voter registry CSV");
  auto o = std::make_shared<HashgenOptions>();
  cmd->add_option("--voters", o->voters, "Registry CSV with header nas,code,law_id")->required();
  cmd->add_option("--key-file", o->key_file,
                  "Election key from `scrutin keygen` (required for hmac-sha256)");
  cmd->add_option("--scheme", o->scheme, "hmac-sha256 (default) or sha256 (original design)")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Directory for manifest.json and the shards")->required();
  cmd->add_option("--shard-size", o->shard_size, "Digests per shard")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
  cmd->add_option("--format", o->format, "Shard format: bin (compact, default) or json")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Hashing threads (default: one per core)")
      ->check(CLI::Range(1u, 256u));
  cmd->callback([o] { RunHashgen(*o); });
}

}  // namespace scrutin::apps

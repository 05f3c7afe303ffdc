#include "apps/startup.hpp"

#include <pthread.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "apps/log.hpp"
#include "core/hash_database.hpp"

namespace scrutin::apps {

namespace fs = std::filesystem;

void Require(const core::Status& st, std::string_view what) {
  if (!st) throw CommandError(fmt::format("{}: {}", what, st.error()));
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

std::string_view WaitForStopSignal(const sigset_t& signals) {
  int received = 0;
  while (sigwait(&signals, &received) != 0) {
  }
  return received == SIGINT ? "SIGINT" : "SIGTERM";
}

std::string DefaultWebRoot() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  fs::path web = exe.parent_path() / "web";
  return fs::exists(web / "index.html") ? web.string() : std::string();
}

core::CredentialHasher LoadCredentialHasher(const std::string& hashes_dir,
                                            const std::string& key_file) {
  core::Manifest manifest =
      Require(core::ReadManifest(hashes_dir), "cannot read the eligibility database");
  std::vector<std::uint8_t> key;
  if (manifest.scheme == core::HashScheme::kHmacSha256) {
    if (key_file.empty()) {
      throw CommandError(
          "the eligibility database uses hmac-sha256: give the election key with --key-file "
          "(or SCRUTIN_KEY_FILE)");
    }
    key = Require(core::LoadElectionKey(key_file), "cannot load the election key");
  }
  auto hasher =
      Require(core::CredentialHasher::Create(manifest.scheme, key), "cannot use the election key");
  std::fill(key.begin(), key.end(), 0);
  return hasher;
}

void AddHttpFlags(CLI::App* cmd, HttpFlags& flags) {
  cmd->add_option("--listen", flags.listen,
                  "Address to listen on, host:port (port 0: any free one)")
      ->envname("SCRUTIN_LISTEN")
      ->capture_default_str();
  cmd->add_option("--threads", flags.threads, "HTTP threads (0: one per core)")
      ->envname("SCRUTIN_THREADS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  cmd->add_option("--rate-limit", flags.rate_limit,
                  "Vote submissions per second this instance accepts before answering 429 "
                  "(0: no limit)")
      ->envname("SCRUTIN_RATE_LIMIT")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--web", flags.web,
                  "Directory of the web UI served at / (default: the web/ folder installed next "
                  "to the binary)")
      ->envname("SCRUTIN_WEB");
  cmd->add_option("--status-retention-days", flags.retention_days,
                  "Days request statuses are kept after their law closes")
      ->envname("SCRUTIN_STATUS_RETENTION_DAYS")
      ->check(CLI::Range(0, 3650))
      ->capture_default_str();
}

FrontDoor StartFrontDoor(const HttpFlags& flags, http::ApiConfig api_config) {
  FrontDoor door;
  door.web_root = flags.web.empty() ? DefaultWebRoot() : flags.web;
  api_config.rate_limit = flags.rate_limit;
  api_config.web_root = door.web_root;
  door.api = Require(http::Api::Create(std::move(api_config)), "cannot set up the API");
  http::ServerOptions server_options;
  server_options.threads = flags.threads;
  server_options.log = [](std::string_view event, std::string_view detail) {
    LogEvent(LogLevel::kWarn, event, {{"detail", detail}});
  };
  door.server = std::make_unique<http::Server>(server_options, *door.api);
  auto listen = Require(http::ParseListenAddress(flags.listen), "invalid --listen");
  door.bound = Require(door.server->Start(listen), "cannot listen");
  return door;
}

}  // namespace scrutin::apps

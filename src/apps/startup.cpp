#include "apps/startup.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "apps/log.hpp"
#include "apps/tls_policy.hpp"
#include "core/digest.hpp"
#include "core/hash_database.hpp"
#include "core/secret_file.hpp"
#include "core/secure_memory.hpp"

namespace scrutin::apps {

namespace fs = std::filesystem;

void Require(const core::Status& st, std::string_view what) {
  if (!st) throw CommandError(fmt::format("{}: {}", what, st.error()));
}

sigset_t BlockStopSignals(bool reload) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (reload) sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

std::string_view WaitForStopSignal(const sigset_t& signals,
                                   const std::function<void()>& on_reload) {
  for (;;) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) continue;
    if (received == SIGHUP) {
      if (on_reload) on_reload();
      continue;
    }
    return received == SIGINT ? "SIGINT" : "SIGTERM";
  }
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
  // The key is read straight into memory kept out of core dumps, and wiped when `key` goes.
  std::optional<core::SecureBuffer> key;
  if (manifest.scheme == core::HashScheme::kHmacSha256) {
    if (key_file.empty()) {
      throw CommandError(
          "the eligibility database uses hmac-sha256: give the election key with --key-file "
          "(or SCRUTIN_KEY_FILE)");
    }
    key.emplace(Require(core::LoadElectionKeySecure(key_file), "cannot load the election key"));
  }
  return Require(core::CredentialHasher::Create(
                     manifest.scheme, key ? key->span() : std::span<const std::uint8_t>()),
                 "cannot use the election key");
}

core::BallotSealer LoadBallotSealer(const std::string& key_file) {
  if (key_file.empty()) {
    throw CommandError(
        "give the ballot key with --ballot-key-file (or SCRUTIN_BALLOT_KEY_FILE); create one "
        "with `scrutin keygen --ballot-key --out FILE`");
  }
  core::SecureBuffer key =
      Require(core::LoadSecretKey(key_file, "ballot key"), "cannot load the ballot key");
  return Require(core::BallotSealer::Create(key.span()), "cannot use the ballot key");
}

std::string WriteNewSecretFile(const std::string& path, std::string_view text) {
  // O_EXCL: never replace an existing key. The umask can only remove bits from 0600; set it
  // explicitly all the same.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno == EEXIST ? "it already exists" : std::strerror(errno);
  bool ok = ::fchmod(fd, 0600) == 0;
  for (std::size_t off = 0; ok && off < text.size();) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int err = errno;
  ok = ::close(fd) == 0 && ok;
  if (ok) return {};
  ::unlink(path.c_str());
  return std::strerror(err);
}

core::BallotSealer LoadOrCreateServeBallotKey(const std::string& key_file,
                                             const std::string& data_dir) {
  if (!key_file.empty()) return LoadBallotSealer(key_file);
  const fs::path path = fs::path(data_dir) / "ballot.key";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    std::uint8_t key[core::kBallotKeySize];
    if (RAND_bytes(key, sizeof key) != 1) {
      throw CommandError("the system's random generator failed; no ballot key written");
    }
    std::string text = core::HexEncode(key, sizeof key) + "\n";
    OPENSSL_cleanse(key, sizeof key);
    fs::create_directories(data_dir, ec);
    const std::string error = WriteNewSecretFile(path.string(), text);
    OPENSSL_cleanse(text.data(), text.size());
    if (!error.empty()) {
      throw CommandError(fmt::format("cannot create the ballot key {}: {}", path.string(), error));
    }
    LogEvent(LogLevel::kWarn, "ballot_key_created",
             {{"file", path.string()},
              {"advice",
               "a ballot key kept beside the vote store does not protect ballot secrecy against "
               "a reader of the data directory: for an election, create one with `scrutin keygen "
               "--ballot-key` and pass --ballot-key-file"}});
  }
  return LoadBallotSealer(path.string());
}

std::shared_ptr<const core::RecordSigner> LoadRecordSigner(const std::string& key_file) {
  if (key_file.empty()) {
    throw CommandError(
        "give the record key with --record-key-file (or SCRUTIN_RECORD_KEY_FILE); create one "
        "with `scrutin keygen --record-key --out FILE`");
  }
  // Anyone who reads it can sign a false record: the rule of every secret file.
  if (const int fd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK); fd >= 0) {
    const core::Status st = core::CheckSecretFile(fd, key_file, "record key");
    ::close(fd);
    Require(st, "cannot use the record key");
  }
  return std::make_shared<const core::RecordSigner>(
      Require(core::RecordSigner::Load(key_file), "cannot load the record key"));
}

std::shared_ptr<const core::RecordSigner> LoadOrCreateServeRecordKey(const std::string& key_file,
                                                                     const std::string& data_dir) {
  if (!key_file.empty()) return LoadRecordSigner(key_file);
  const fs::path path = fs::path(data_dir) / "record.key";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    auto signer = Require(core::RecordSigner::Generate(), "cannot generate a record key");
    std::string pem = Require(signer.PrivatePem(), "cannot write the record key");
    fs::create_directories(data_dir, ec);
    const std::string error = WriteNewSecretFile(path.string(), pem);
    OPENSSL_cleanse(pem.data(), pem.size());
    if (!error.empty()) {
      throw CommandError(fmt::format("cannot create the record key {}: {}", path.string(), error));
    }
    LogEvent(LogLevel::kWarn, "record_key_created",
             {{"file", path.string()},
              {"public_key", signer.PublicKeyHex()},
              {"advice",
               "for an election, create the record key with `scrutin keygen --record-key`, "
               "publish its public key before the poll opens, and pass --record-key-file"}});
  }
  return LoadRecordSigner(path.string());
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
  cmd->add_option("--client-vote-rate", flags.client_vote_rate,
                  "Vote submissions (POST) per second one client address may make before 429 "
                  "scope client (0: no per-client limit)")
      ->envname("SCRUTIN_CLIENT_VOTE_RATE")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--client-vote-burst", flags.client_vote_burst,
                  "Vote submissions one client address may make at once after a quiet period")
      ->envname("SCRUTIN_CLIENT_VOTE_BURST")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--client-read-rate", flags.client_read_rate,
                  "Reads (GET/HEAD: statuses, results, pages) per second one client address may "
                  "make (0: no per-client limit)")
      ->envname("SCRUTIN_CLIENT_READ_RATE")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--client-read-burst", flags.client_read_burst,
                  "Reads one client address may make at once after a quiet period")
      ->envname("SCRUTIN_CLIENT_READ_BURST")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--max-connections-per-client", flags.max_connections_per_client,
                  "Open connections one client address may hold (0: no cap; at most a quarter of "
                  "--max-connections is used)")
      ->envname("SCRUTIN_MAX_CONNECTIONS_PER_CLIENT")
      ->check(CLI::Range(0, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--max-connections", flags.max_connections,
                  "Open connections in all (0: the file-descriptor limit, raised to its hard "
                  "maximum, less a reserve for stores and backends)")
      ->envname("SCRUTIN_MAX_CONNECTIONS")
      ->check(CLI::Range(0, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--client-table-mb", flags.client_table_mb,
                  "Memory for tracking client addresses (~26,000 clients per MiB; the least "
                  "recently seen idle client is forgotten first)")
      ->envname("SCRUTIN_CLIENT_TABLE_MB")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--trusted-proxies", flags.trusted_proxies,
                  "Comma-separated addresses or CIDR ranges of proxies whose PROXY protocol "
                  "header (v1/v2) or X-Forwarded-For names the client (default: none)")
      ->envname("SCRUTIN_TRUSTED_PROXIES");
  cmd->add_option("--credential-attempts", flags.credential_attempts,
                  "Vote attempts one social insurance number may make on one law per "
                  "--credential-window before 429 scope credential (0: no limit)")
      ->envname("SCRUTIN_CREDENTIAL_ATTEMPTS")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--credential-window", flags.credential_window_s,
                  "The window of --credential-attempts, in seconds")
      ->envname("SCRUTIN_CREDENTIAL_WINDOW")
      ->check(CLI::Range(1, 7 * 24 * 3600))
      ->capture_default_str();
  auto* cert =
      cmd->add_option("--tls-cert", flags.tls_cert,
                      "HTTPS: the certificate chain (PEM, the server's certificate first); "
                      "the port then speaks only TLS 1.2/1.3. Re-read on SIGHUP")
          ->envname("SCRUTIN_TLS_CERT");
  auto* key = cmd->add_option("--tls-key", flags.tls_key,
                              "HTTPS: the certificate's private key (PEM, unencrypted; keep it "
                              "readable by this process only). Re-read on SIGHUP")
                  ->envname("SCRUTIN_TLS_KEY");
  cert->needs(key);
  key->needs(cert);
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

namespace {

// The front door's defences as Prometheus series (read from the server at scrape time).
// Returns a handle that unregisters the collector when released.
std::shared_ptr<void> AddFrontDoorMetrics(metrics::Registry& registry, const http::Server& server,
                                          const http::TlsContext* tls) {
  auto& open = registry.AddGauge("scrutin_http_connections", "Open HTTP connections").Get();
  auto& cap = registry
                  .AddGauge("scrutin_http_max_connections",
                            "The HTTP connection cap in force (derived from the file limit)")
                  .Get();
  auto& refused = registry
                      .AddGauge("scrutin_http_connections_refused_total",
                                "Connections closed at accept: server or client at its cap, or "
                                "out of file descriptors")
                      .Get();
  auto& limited = registry
                      .AddGauge("scrutin_http_client_rate_limited_total",
                                "Requests answered 429 scope client (a client's own bucket)")
                      .Get();
  auto& shed = registry
                   .AddGauge("scrutin_http_idle_connections_shed_total",
                             "Idle keep-alive connections closed early near the connection cap")
                   .Get();
  auto& tls_failed = registry
                         .AddGauge("scrutin_http_tls_handshake_failures_total",
                                   "TLS handshakes that failed (plain HTTP on the HTTPS port, old "
                                   "protocols, clients that gave up)")
                         .Get();
  // Registered only with HTTPS: a 0 would read as "expired" on a plain-HTTP process.
  metrics::Gauge* cert_left =
      tls == nullptr ? nullptr
                     : &registry
                            .AddGauge("scrutin_tls_certificate_expiry_seconds",
                                      "Seconds until the HTTPS certificate in use expires (absent "
                                      "without HTTPS)")
                            .Get();
  auto id = registry.AddCollector([&, s = &server, tls, cert_left] {
    open.Set(static_cast<double>(s->connections()));
    cap.Set(static_cast<double>(s->max_connections()));
    refused.Set(static_cast<double>(s->connections_refused()));
    limited.Set(static_cast<double>(s->requests_rate_limited()));
    shed.Set(static_cast<double>(s->idle_connections_shed()));
    tls_failed.Set(static_cast<double>(s->tls_handshakes_failed()));
    if (cert_left != nullptr) {
      cert_left->Set(static_cast<double>(tls->certificate().seconds_left));
    }
  });
  return std::shared_ptr<void>(nullptr, [&registry, id](void*) { registry.RemoveCollector(id); });
}

}  // namespace

FrontDoor StartFrontDoor(const HttpFlags& flags, http::ApiConfig api_config) {
  FrontDoor door;
  door.web_root = flags.web.empty() ? DefaultWebRoot() : flags.web;
  api_config.rate_limit = flags.rate_limit;
  api_config.web_root = door.web_root;
  api_config.credential_limits.attempts = static_cast<std::uint32_t>(flags.credential_attempts);
  api_config.credential_limits.window = std::chrono::seconds(flags.credential_window_s);
  metrics::Registry& registry = api_config.metrics.registry;

  http::ServerOptions server_options;
  server_options.threads = flags.threads;
  server_options.max_connections =
      http::RaiseFileLimit(static_cast<std::size_t>(flags.max_connections));
  server_options.trusted_proxies =
      Require(http::TrustedProxies::Parse(flags.trusted_proxies), "invalid --trusted-proxies");
  http::ClientLimits limits;
  limits.write_rate = flags.client_vote_rate;
  limits.write_burst = flags.client_vote_burst;
  limits.read_rate = flags.client_read_rate;
  limits.read_burst = flags.client_read_burst;
  limits.max_connections = static_cast<std::uint32_t>(
      std::min<std::size_t>(static_cast<std::size_t>(flags.max_connections_per_client),
                            std::max<std::size_t>(1, server_options.max_connections / 4)));
  limits.memory_bytes = static_cast<std::size_t>(flags.client_table_mb) << 20;
  door.clients = std::make_unique<http::ClientTable>(limits);
  server_options.clients = door.clients.get();

  door.api = Require(http::Api::Create(std::move(api_config)), "cannot set up the API");
  server_options.log = [](std::string_view event, std::string_view detail) {
    LogEvent(LogLevel::kWarn, event, {{"detail", detail}});
  };
  CheckLink("the public port (--listen " + flags.listen + ")", !flags.tls_cert.empty(),
            "speaks plain HTTP", "give --tls-cert and --tls-key");
  if (!flags.tls_cert.empty()) {
    door.tls = Require(http::TlsContext::Load(flags.tls_cert, flags.tls_key),
                       "cannot serve HTTPS (--tls-cert / --tls-key)");
    server_options.tls = door.tls.get();
    const auto info = door.tls->certificate();
    LogEvent(LogLevel::kInfo, "tls",
             {{"certificate", info.subject},
              {"not_after", info.not_after},
              {"days_left", info.seconds_left / 86400}});
  }
  door.server = std::make_unique<http::Server>(server_options, *door.api);
  auto listen = Require(http::ParseListenAddress(flags.listen), "invalid --listen");
  door.bound = Require(door.server->Start(listen), "cannot listen");
  door.metrics_registration = AddFrontDoorMetrics(registry, *door.server, door.tls.get());
  LogEvent(LogLevel::kInfo, "front_door_limits",
           {{"max_connections", door.server->max_connections()},
            {"max_connections_per_client", limits.max_connections},
            {"clients_tracked", door.clients->capacity()},
            {"client_vote_rate", limits.write_rate},
            {"client_read_rate", limits.read_rate},
            {"credential_attempts", flags.credential_attempts},
            {"credential_window_s", flags.credential_window_s},
            {"trusted_proxies", flags.trusted_proxies.empty() ? "none" : flags.trusted_proxies}});
  return door;
}

void ReloadTls(const FrontDoor& door) {
  if (!door.tls) {
    LogEvent(LogLevel::kInfo, "reload", {{"detail", "SIGHUP: no HTTPS certificate to re-read"}});
    return;
  }
  if (auto st = door.tls->Reload(); !st) {
    LogEvent(LogLevel::kError, "tls_reload_failed",
             {{"detail", st.error() + "; the previous certificate stays in use"}});
    return;
  }
  const auto info = door.tls->certificate();
  LogEvent(LogLevel::kInfo, "tls_reloaded",
           {{"certificate", info.subject},
            {"not_after", info.not_after},
            {"days_left", info.seconds_left / 86400}});
}

}  // namespace scrutin::apps

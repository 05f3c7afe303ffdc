// What every long-running scrutin command does the same way at start-up and shutdown, and what the
// two HTTP front doors (`serve` and `api`) share: their HTTP flags, the web root shipped next to
// the binary, and the credential hasher built from the eligibility database's manifest and the
// election key. Wiring only: no vote rule lives here.
// Private to src/apps: other modules use its public headers.
#pragma once

#include <fmt/format.h>
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "apps/commands.hpp"
#include "core/credential.hpp"
#include "core/record.hpp"
#include "core/sealed_ballot.hpp"
#include "core/result.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "http/tls.hpp"

namespace scrutin::apps {

// The value of `r`, or CommandError "<what>: <error>" (one line for the operator).
template <typename T>
T Require(core::Result<T> r, std::string_view what) {
  if (!r) throw CommandError(fmt::format("{}: {}", what, r.error()));
  return std::move(r).value();
}
void Require(const core::Status& st, std::string_view what);

// Blocks SIGTERM and SIGINT (and SIGHUP when `reload`) in the calling thread and the threads it
// starts later, so that a stop signal during start-up is held, then handled by WaitForStopSignal
// as a graceful stop. REQUIRES: called before any thread is started.
sigset_t BlockStopSignals(bool reload = false);
// Waits for SIGTERM or SIGINT; returns "SIGTERM" or "SIGINT". A SIGHUP (when blocked) calls
// `on_reload` and waits on.
std::string_view WaitForStopSignal(const sigset_t& signals,
                                   const std::function<void()>& on_reload = {});

// The web UI installed next to the binary (the build copies web/ there), else "" (the API then
// serves a built-in placeholder page).
std::string DefaultWebRoot();

// The hasher for the database at `hashes_dir` (its manifest names the scheme). The election key is
// required for hmac-sha256, read from `key_file`, and wiped from memory once the hasher holds it.
core::CredentialHasher LoadCredentialHasher(const std::string& hashes_dir,
                                            const std::string& key_file);

// The sealer of the ballot key in `key_file` (`scrutin keygen --ballot-key`; the same checks as
// the election key: 0600, 64 hex characters). The api seals with it, the mixer opens.
core::BallotSealer LoadBallotSealer(const std::string& key_file);

// `serve`'s ballot key: `key_file` when given, else <data_dir>/ballot.key, created (0600) at the
// first start with a warning that a key beside the store protects nothing against a reader of the
// data directory.
core::BallotSealer LoadOrCreateServeBallotKey(const std::string& key_file,
                                             const std::string& data_dir);

// Creates `path` (0600, O_EXCL: never replacing a file) holding `text`, synced. Returns "" on
// success, else why not (the file is then removed).
std::string WriteNewSecretFile(const std::string& path, std::string_view text);

// The record key in `key_file` (`scrutin keygen --record-key`: an Ed25519 PKCS#8 PEM file, which
// must not be readable by other users). The mixer signs each closed law's record with it.
std::shared_ptr<const core::RecordSigner> LoadRecordSigner(const std::string& key_file);

// `serve`'s record key: `key_file` when given, else <data_dir>/record.key, created (0600) at the
// first start with a warning naming its public key.
std::shared_ptr<const core::RecordSigner> LoadOrCreateServeRecordKey(const std::string& key_file,
                                                                     const std::string& data_dir);

// The flags of an HTTP front door, shared by `serve` and `api`. The defaults of the limits, and
// why, are in the README ("Limits at the front door").
struct HttpFlags {
  std::string listen = "127.0.0.1:8000";
  int threads = 0;
  double rate_limit = 1000;
  std::string web;
  int retention_days = 30;
  // Per client address (an IPv4 address or an IPv6 /64): http::ClientLimits.
  double client_vote_rate = 200;
  double client_vote_burst = 2000;
  double client_read_rate = 1000;
  double client_read_burst = 5000;
  int max_connections_per_client = 512;
  int client_table_mb = 8;
  // 0: derived from the file-descriptor limit.
  int max_connections = 0;
  std::string trusted_proxies;
  // The online-guessing allowance: http::CredentialLimits.
  int credential_attempts = 60;
  int credential_window_s = 600;
  // HTTPS: both or neither (http::TlsContext).
  std::string tls_cert;
  std::string tls_key;
};
void AddHttpFlags(CLI::App* cmd, HttpFlags& flags);

// A running HTTP front door: the API of docs/openapi.yaml behind the HTTP server, listening.
struct FrontDoor {
  std::string web_root;  // "" when the built-in placeholder page is served
  std::unique_ptr<http::ClientTable> clients;
  std::unique_ptr<http::Api> api;
  std::unique_ptr<http::TlsContext> tls;  // null for plain HTTP
  std::unique_ptr<http::Server> server;   // declared after `api` and `tls`: destroyed first
  boost::asio::ip::tcp::endpoint bound;
  // Unregisters the server's metrics collector; declared last, so released before the server.
  std::shared_ptr<void> metrics_registration;
};

// Builds the API over `api_config` (its rate limit and web root taken from `flags`) and starts the
// server on flags.listen with flags.threads. CommandError on a bad address or a busy port.
FrontDoor StartFrontDoor(const HttpFlags& flags, http::ApiConfig api_config);

// SIGHUP: re-reads the front door's certificate and key (logs what it loaded, or why it kept the
// previous pair). Nothing to do for plain HTTP.
void ReloadTls(const FrontDoor& door);

}  // namespace scrutin::apps

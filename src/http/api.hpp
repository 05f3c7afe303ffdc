// Api: the routes of docs/openapi.yaml as a Handler for http::Server — the
// same code in both shapes; what differs is the VoteIntake and VoteQueries it is given.
//
//   POST /api/v1/vote             parse, check the window, hash, hand to the intake, answer 202
//                                 only once the intake says the vote is durable (503 otherwise)
//   GET  /api/v1/vote/{id}        a request's status (and receipt when accepted)
//   GET  /api/v1/receipts/{r}     whether a ballot with that receipt is counted (not its choice)
//   GET  /api/v1/results/{law}    a law's tally (403 while embargoed)
//   GET  /api/v1/record/{law}     the signed record of a closed law (403 poll_open before it is
//                                 sealed), and /api/v1/record/{law}/receipts its receipts list
//   GET  /api/v1/laws             the ballot
//   GET  /api/v1/health           the dependency checks, "ok" or "failing" each (503 when one
//                                 fails); the details are for the admin port (http/admin.hpp)
//   GET  /metrics                 Prometheus exposition
//   GET  /...                     the web UI's static files (a placeholder page without a web root)
//
// Credentials: the NAS and code exist in the request body and in the parsed VoteRequest only while
// the vote is being handled; both are wiped before Handle returns, and no response, log line or
// metric label ever contains them.
//
// Thread-safety: Handle may run on any number of server threads at once. No call on a server
// thread may wait on a remote backend: a blocked server thread stalls every connection it serves,
// votes included. So FindTally is called on the server thread (a local read, or a cache refreshed
// in the background: pipeline::CachedTallies) unless ApiConfig::read_tally answers asynchronously;
// FindStatus too unless ApiConfig::lookups hands it to a bounded pool; the health checks come from
// ApiConfig::health (state probed in the background) or else the intake's Health(), which must then
// be local and cheap.
#pragma once

#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/ballot.hpp"
#include "core/credential.hpp"
#include "core/mutex.hpp"
#include "core/record.hpp"
#include "core/result.hpp"
#include "core/sealed_ballot.hpp"
#include "core/vote.hpp"
#include "http/bounded_executor.hpp"
#include "http/credential_limiter.hpp"
#include "http/rate_limiter.hpp"
#include "http/server.hpp"
#include "http/static_files.hpp"
#include "metrics/vote_metrics.hpp"
#include "ports/vote_intake.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::http {

struct ApiConfig {
  // Everything referenced must outlive the Api.
  const core::Ballot& ballot;
  const core::CredentialHasher& hasher;
  // Seals each vote's choice and receipt as soon as it is parsed (docs/ballot-secrecy.md).
  const core::BallotSealer& sealer;
  ports::VoteIntake& intake;
  ports::VoteQueries& queries;
  metrics::VoteMetrics& metrics;
  std::string shape = "embedded";  // reported by /api/v1/health
  // POST /api/v1/vote admissions per second for this instance (0: unlimited), and the burst
  // admitted at once after a quiet period (0: one second's worth).
  double rate_limit = 1000;
  double rate_burst = 0;
  // Directory of the web UI; empty: a built-in placeholder page at "/".
  std::filesystem::path web_root;
  // The wall clock used for voting windows, embargoes and timestamps; empty: the system clock.
  std::function<core::Timestamp()> clock;
  // Where GET /api/v1/vote/{id} reads the status: nullptr, inline on the server thread (the
  // embedded shape's local reads); else this bounded pool (must outlive the Api), whose refusal
  // (queue full) or expired deadline answers 503 + Retry-After at once.
  BoundedExecutor* lookups = nullptr;
  // The checks GET /api/v1/health reports (thread-safe, never waiting on a backend); empty: the
  // intake's Health(). Only "ok" / "failing" per check reaches the response.
  std::function<std::vector<ports::HealthCheck>()> health = nullptr;
  // Where GET /api/v1/results/{law} reads the tally: empty, queries.FindTally on the server thread;
  // else this function, which must not block and calls back exactly once, from any thread (the
  // distributed api: pipeline::CachedTallies::ReadFresh, a coalesced read newer than the request).
  std::function<void(const std::string& law_id,
                     std::function<void(core::Result<ports::Tally>)> done)>
      read_tally = nullptr;
  // The online-guessing allowance: POST /api/v1/vote attempts per NAS per law per window
  // (credential_limiter.hpp); beyond it, 429 with "scope": "credential".
  CredentialLimits credential_limits{};
};

// A law as GET /api/v1/laws lists it (and the admin port answers it), with its closing time in
// force.
std::string LawJson(const core::Law& law);

class Api final : public Handler {
 public:
  // Error (one sentence) when the web root cannot be loaded.
  static core::Result<std::unique_ptr<Api>> Create(ApiConfig config);

  void Handle(Request& request, Responder responder) override;

  // The routes, as the api_request_duration_seconds{route} label values.
  enum class Route : std::uint8_t {
    kVote,
    kVoteStatus,
    kReceipt,
    kResults,
    kRecord,
    kLaws,
    kHealth,
    kMetrics,
    kStatic,
    kNotFound,
    kCount
  };

 private:
  Api(ApiConfig config, StaticFiles files);

  struct PendingVote;
  class Exchange;

  void HandleVote(Exchange& ex);
  void HandleVoteStatus(Exchange& ex, std::string_view id);
  void HandleReceipt(Exchange& ex, std::string_view receipt);
  void HandleResults(Exchange& ex, std::string_view law_id);
  void HandleRecord(Exchange& ex, std::string_view law_and_rest);
  Response RecordAnswer(const core::Law& law, bool receipts_list);
  // Answers ex with `answer()`: inline without ApiConfig::lookups, else on that pool (503 with
  // `busy` when it refuses or the deadline passes).
  void Lookup(Exchange& ex, std::string_view busy, std::function<Response()> answer);
  void HandleLaws(Exchange& ex);
  void HandleHealth(Exchange& ex);
  void HandleMetrics(Exchange& ex);
  void HandleStatic(Exchange& ex, std::string_view path);
  void OnIntakeResult(PendingVote& pending, const ports::IntakeResult& result);

  core::Timestamp Now() const;
  metrics::Histogram& DurationHistogram(Route route, unsigned status);

  static constexpr std::size_t kStatusSlots = 16;  // known status codes + "other"
  ApiConfig config_;
  StaticFiles files_;
  RateLimiter limiter_;
  CredentialLimiter credentials_;
  // Sealed records read so far (they never change once sealed), by law.
  core::Mutex records_mu_;
  std::map<std::string, std::shared_ptr<const core::PublishedRecord>, std::less<>> records_
      GUARDED_BY(records_mu_);
  // api_request_duration_seconds children, resolved on first use (the family lookup locks).
  std::array<std::array<std::atomic<metrics::Histogram*>, kStatusSlots>,
             static_cast<std::size_t>(Route::kCount)>
      durations_{};
};

}  // namespace scrutin::http

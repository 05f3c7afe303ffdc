// AdminHandler: the HTTP surface of the --admin-listen ports (docs/openapi.yaml, the admin tag;
// docs/operations.md "Emergency close and extension"): serve's and each api's operator port, and
// the validators' and aggregators' only port.
//
//   GET  /livez           {"status":"ok"}, 200 whenever the server's threads answer: consults no
//                         backend (a Kubernetes liveness probe: restart only a wedged process)
//   GET  /readyz          {"status":"ok"|"degraded"}, 200 or 503: the same verdict as /health,
//                         without the checks (a readiness probe, `scrutin health`)
//   GET  /metrics         Prometheus exposition of the process's registry
//   GET  /health          {"status":"ok"|"degraded","shape":...,"role":...,"checks":{...}}
//                         200 when every check passes, 503 otherwise (same body shape as the api's
//                         public health, but a failing check shows its detail: which backend, the
//                         error, how long it has been silent). /api/v1/health is the same answer.
//   POST /admin/v1/laws/{law}/close    the law closes now (emergency)          } serve and api,
//   POST /admin/v1/laws/{law}/extend   {"closes_at": RFC 3339}: closes later   } with LawActions
//
// With a token (--admin-token-file), every request but /livez and /readyz must carry
// `Authorization: Bearer <token>` (compared in constant time); otherwise 401 unauthorized with
// WWW-Authenticate. The two probes answer without it because a Kubernetes httpGet probe cannot
// read a Secret, and they tell nothing but up/ready. Without a token, /metrics and /health answer
// anyone who reaches the (loopback or private) port, and the actions answer 401: they are never
// enabled without a token.
//
// Anything else is 404 (405 for another method on these paths), with the API's error body.
//
// Thread-safety: Handle may run on several server threads at once; the health function and the
// registry must be thread-safe. The health function is called on the server thread: the workers'
// probes do network I/O bounded by their clients' timeouts; the api's reads the state its
// pipeline::HealthMonitor probed in the background.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/ballot.hpp"
#include "core/result.hpp"
#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::http {

// Why an admin action was refused: the answer's status, error code and sentence.
struct AdminRefusal {
  unsigned status = 409;
  std::string error;    // law_closed, record_sealed, closes_at_too_early, unknown_law, unavailable
  std::string message;
};

// The law actions the admin port offers (apps wires them to pipeline::LawControl). Each returns
// the law as it now stands, or why not. They may block on the schedule's store (the admin port's
// thread only).
struct LawActions {
  std::function<core::Result<core::Law, AdminRefusal>(const std::string& law_id)> close;
  std::function<core::Result<core::Law, AdminRefusal>(const std::string& law_id,
                                                      core::Timestamp closes_at)>
      extend;
  // Told of every action taken (for the log): action, law, the law as it now stands.
  std::function<void(std::string_view action, const core::Law& law)> on_action;
};

struct AdminConfig {
  metrics::Registry& registry;  // must outlive the handler
  std::function<std::vector<ports::HealthCheck>()> health;
  std::string role;  // "validator", "aggregator", "api", "serve"
  std::string shape = "distributed";
  // The bearer token every request must carry; empty: none (the actions are then disabled).
  std::string token = {};
  // Empty: no law actions on this port (404 for their paths).
  LawActions actions = {};
};

class AdminHandler final : public Handler {
 public:
  explicit AdminHandler(AdminConfig config) : config_(std::move(config)) {}
  void Handle(Request& request, Responder responder) override;

  // The health body and status for these checks (exposed for tests).
  static Response HealthResponse(const std::vector<ports::HealthCheck>& checks,
                                 std::string_view role, std::string_view shape = "distributed");

 private:
  bool Authorized(const Request& request) const;
  Response LawAction(Request& request, std::string_view rest);

  AdminConfig config_;
};

}  // namespace scrutin::http

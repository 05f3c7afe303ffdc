// AdminHandler: the small HTTP surface served on the distributed shape's --admin-listen ports
// (validator, aggregator, and the api's operator port):
//
//   GET /metrics         Prometheus exposition of the process's registry
//   GET /health          {"status":"ok"|"degraded","shape":"distributed","role":...,"checks":{...}}
//                        200 when every check passes, 503 otherwise (same body shape as the api's
//                        public health, but a failing check shows its detail: which backend, the
//                        error, how long it has been silent). /api/v1/health is the same answer.
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

#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::http {

struct AdminConfig {
  metrics::Registry& registry;  // must outlive the handler
  std::function<std::vector<ports::HealthCheck>()> health;
  std::string role;  // "validator", "aggregator", "api"
};

class AdminHandler final : public Handler {
 public:
  explicit AdminHandler(AdminConfig config) : config_(std::move(config)) {}
  void Handle(Request& request, Responder responder) override;

  // The health body and status for these checks (exposed for tests).
  static Response HealthResponse(const std::vector<ports::HealthCheck>& checks,
                                 std::string_view role);

 private:
  AdminConfig config_;
};

}  // namespace scrutin::http

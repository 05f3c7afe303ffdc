// AdminHandler: the small HTTP surface of the distributed shape's workers (validator,
// aggregator), served on their --admin-listen port:
//
//   GET /metrics         Prometheus exposition of the process's registry
//   GET /api/v1/health   {"status":"ok"|"degraded","shape":"distributed","role":...,"checks":{...}}
//                        200 when every check passes, 503 otherwise (same body shape as the api's)
//
// Anything else is 404 (405 for another method on these paths), with the API's error body.
//
// Thread-safety: Handle may run on several server threads at once; the health function and the
// registry must be thread-safe. The health function is called on the server thread and may do
// network I/O (it should be bounded by its clients' timeouts).
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
  std::string role;  // "validator", "aggregator"
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

// The part both health endpoints share (the api's and serve's /api/v1/health, and the workers'
// admin port): whether the process is healthy, and the "checks" object of the body.
#pragma once

#include <string>
#include <vector>

#include "ports/vote_intake.hpp"

namespace scrutin::http {

struct HealthSummary {
  bool ok = false;          // at least one check, and every check passes
  std::string checks_json;  // {"<name>": "ok" | its detail | "failing", ...}
};

HealthSummary SummariseHealth(const std::vector<ports::HealthCheck>& checks);

}  // namespace scrutin::http

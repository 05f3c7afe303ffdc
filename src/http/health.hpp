// The part both health endpoints share (the api's and serve's public /api/v1/health, and the admin
// ports' /health and /api/v1/health): whether the process is healthy, and the "checks" object of
// the body.
//
// The public endpoint says only "ok" or "failing" per check: which backend is where and how it
// failed is for the operator (the admin port), not for whoever can reach the public port.
// Private to src/http: other modules use its public headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ports/vote_intake.hpp"

namespace scrutin::http {

struct HealthSummary {
  bool ok = false;          // at least one check, and every check passes
  std::string checks_json;  // {"<name>": "ok" | "failing" | (with details) the failure, ...}
};

enum class HealthDetail : std::uint8_t {
  kPublic,  // each check "ok" or "failing"
  kAdmin,   // a failing check shows its detail (or "failing" when it has none)
};

HealthSummary SummariseHealth(const std::vector<ports::HealthCheck>& checks, HealthDetail detail);

}  // namespace scrutin::http

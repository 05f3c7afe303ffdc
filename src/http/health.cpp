#include "http/health.hpp"

#include <algorithm>
#include <string_view>

#include "http/json.hpp"

namespace scrutin::http {

HealthSummary SummariseHealth(const std::vector<ports::HealthCheck>& checks, HealthDetail detail) {
  HealthSummary out;
  out.ok = !checks.empty() &&
           std::all_of(checks.begin(), checks.end(), [](const auto& c) { return c.ok; });
  JsonObject c(out.checks_json);
  for (const auto& check : checks) {
    const bool show_detail = detail == HealthDetail::kAdmin && !check.detail.empty();
    c.Str(check.name,
          check.ok ? std::string_view("ok")
                   : (show_detail ? std::string_view(check.detail) : std::string_view("failing")));
  }
  c.Close();
  return out;
}

}  // namespace scrutin::http

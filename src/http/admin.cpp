#include "http/admin.hpp"

#include <boost/beast/http/verb.hpp>

#include "http/health.hpp"
#include "http/json.hpp"

namespace scrutin::http {

namespace bhttp = boost::beast::http;

Response AdminHandler::HealthResponse(const std::vector<ports::HealthCheck>& checks,
                                      std::string_view role) {
  HealthSummary health = SummariseHealth(checks, HealthDetail::kAdmin);
  Response r;
  r.status = health.ok ? 200 : 503;
  JsonObject(r.body)
      .Str("status", health.ok ? "ok" : "degraded")
      .Str("shape", "distributed")
      .Str("role", role)
      .Raw("checks", health.checks_json)
      .Close();
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

void AdminHandler::Handle(Request& request, Responder responder) {
  std::string_view target(request.target().data(), request.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  const bool get = request.method() == bhttp::verb::get || request.method() == bhttp::verb::head;
  Response r;
  if (path == "/metrics" || path == "/health" || path == "/api/v1/health") {
    if (!get) {
      r.status = 405;
      r.body = ErrorBody("method_not_allowed", "This method is not allowed here; see Allow.");
      r.AddHeader("Allow", "GET, HEAD");
    } else if (path == "/metrics") {
      r.content_type = metrics::Registry::kContentType;
      r.body = config_.registry.Render();
      r.AddHeader("Cache-Control", "no-store");
    } else {
      r = HealthResponse(config_.health ? config_.health() : std::vector<ports::HealthCheck>{},
                         config_.role);
    }
  } else {
    r.status = 404;
    r.body = ErrorBody("not_found", "The admin port serves /metrics and /health only.");
  }
  responder.Send(std::move(r));
}

}  // namespace scrutin::http

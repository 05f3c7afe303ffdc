#include "http/admin.hpp"

#include <algorithm>
#include <boost/beast/http/verb.hpp>

#include "http/json.hpp"

namespace scrutin::http {

namespace bhttp = boost::beast::http;

Response AdminHandler::HealthResponse(const std::vector<ports::HealthCheck>& checks,
                                      std::string_view role) {
  bool ok = !checks.empty() &&
            std::all_of(checks.begin(), checks.end(), [](const auto& c) { return c.ok; });
  std::string checks_json;
  {
    JsonObject c(checks_json);
    for (const auto& check : checks) {
      c.Str(check.name, check.ok ? std::string_view("ok")
                                 : (check.detail.empty() ? std::string_view("failing")
                                                         : std::string_view(check.detail)));
    }
    c.Close();
  }
  Response r;
  r.status = ok ? 200 : 503;
  JsonObject(r.body)
      .Str("status", ok ? "ok" : "degraded")
      .Str("shape", "distributed")
      .Str("role", role)
      .Raw("checks", checks_json)
      .Close();
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

void AdminHandler::Handle(Request& request, Responder responder) {
  std::string_view target(request.target().data(), request.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  const bool get = request.method() == bhttp::verb::get || request.method() == bhttp::verb::head;
  Response r;
  if (path == "/metrics" || path == "/api/v1/health") {
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
    r.body = ErrorBody("not_found", "The admin port serves /metrics and /api/v1/health only.");
  }
  responder.Send(std::move(r));
}

}  // namespace scrutin::http

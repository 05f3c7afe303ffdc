#include "http/admin.hpp"

#include <openssl/crypto.h>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "http/api.hpp"
#include "http/health.hpp"
#include "http/json.hpp"

namespace scrutin::http {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kLawsPrefix = "/admin/v1/laws/";

Response JsonError(unsigned status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.body = ErrorBody(code, message);
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

// 400 invalid_request with one field's problem.
Response InvalidField(std::string_view field, std::string_view problem) {
  Response r;
  r.status = 400;
  std::string fields;
  JsonObject(fields).Str(field, problem).Close();
  JsonObject(r.body)
      .Str("error", "invalid_request")
      .Str("message", "The request body has an invalid field; see fields.")
      .Raw("fields", fields)
      .Close();
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

}  // namespace

bool AdminHandler::Authorized(const Request& request) const {
  if (config_.token.empty()) return true;
  auto it = request.find(bhttp::field::authorization);
  if (it == request.end()) return false;
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() < kBearer.size() ||
      strncasecmp(value.data(), kBearer.data(), kBearer.size()) != 0) {
    return false;
  }
  value.remove_prefix(kBearer.size());
  // Constant time for tokens of the right length; a wrong length says only that.
  return value.size() == config_.token.size() &&
         CRYPTO_memcmp(value.data(), config_.token.data(), value.size()) == 0;
}

Response AdminHandler::LawAction(Request& request, std::string_view rest) {
  const auto slash = rest.find('/');
  const std::string law_id(rest.substr(0, slash));
  const std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (action != "close" && action != "extend") {
    return JsonError(404, "not_found", "The admin actions are .../close and .../extend.");
  }
  if (request.method() != bhttp::verb::post) {
    Response r = JsonError(405, "method_not_allowed", "This method is not allowed here; see Allow.");
    r.AddHeader("Allow", "POST");
    return r;
  }
  if (config_.token.empty()) {
    // Never without a token, whoever can reach the port.
    Response r = JsonError(401, "unauthorized",
                           "Administration is disabled on this port: start the process with "
                           "--admin-token-file to enable it.");
    r.AddHeader("WWW-Authenticate", "Bearer realm=\"scrutin-admin\"");
    return r;
  }
  core::Result<core::Law, AdminRefusal> done = core::Fail(AdminRefusal{});
  if (action == "close") {
    done = config_.actions.close(law_id);
  } else {
    auto body = nlohmann::json::parse(request.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return JsonError(400, "malformed_json", "The body must be a JSON object {\"closes_at\": ...}.");
    }
    for (const auto& [key, value] : body.items()) {
      if (key != "closes_at") return InvalidField(key.substr(0, 64), "unknown_field");
    }
    if (!body.contains("closes_at")) return InvalidField("closes_at", "missing");
    std::optional<core::Timestamp> at;
    if (body["closes_at"].is_string()) at = core::ParseTimestamp(body["closes_at"].get<std::string>());
    if (!at) return InvalidField("closes_at", "format");
    done = config_.actions.extend(law_id, *at);
  }
  if (!done) return JsonError(done.error().status, done.error().error, done.error().message);
  if (config_.actions.on_action) config_.actions.on_action(action, *done);
  Response r;
  r.body = LawJson(*done);
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Response AdminHandler::HealthResponse(const std::vector<ports::HealthCheck>& checks,
                                      std::string_view role, std::string_view shape) {
  HealthSummary health = SummariseHealth(checks, HealthDetail::kAdmin);
  Response r;
  r.status = health.ok ? 200 : 503;
  JsonObject(r.body)
      .Str("status", health.ok ? "ok" : "degraded")
      .Str("shape", shape)
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
  if (path == "/livez" || path == "/readyz") {
    // Token-free (see the header): a status word, no check's name or detail.
    if (!get) {
      r.status = 405;
      r.body = ErrorBody("method_not_allowed", "This method is not allowed here; see Allow.");
      r.AddHeader("Allow", "GET, HEAD");
    } else {
      const bool ready =
          path == "/livez" ||
          SummariseHealth(config_.health ? config_.health() : std::vector<ports::HealthCheck>{},
                          HealthDetail::kPublic)
              .ok;
      r.status = ready ? 200 : 503;
      JsonObject(r.body).Str("status", ready ? "ok" : "degraded").Close();
      r.AddHeader("Cache-Control", "no-store");
    }
  } else if (!Authorized(request)) {
    r = JsonError(401, "unauthorized",
                  "This port needs the admin token: Authorization: Bearer <token>.");
    r.AddHeader("WWW-Authenticate", "Bearer realm=\"scrutin-admin\"");
  } else if (path.starts_with(kLawsPrefix) && config_.actions.close) {
    r = LawAction(request, path.substr(kLawsPrefix.size()));
  } else if (path == "/metrics" || path == "/health" || path == "/api/v1/health") {
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
                         config_.role, config_.shape);
    }
  } else {
    r.status = 404;
    r.body = ErrorBody("not_found",
                       config_.actions.close
                           ? "The admin port serves /livez, /readyz, /metrics, /health and "
                             "/admin/v1/laws/{law}/..."
                           : "This admin port serves /livez, /readyz, /metrics and /health only.");
  }
  responder.Send(std::move(r));
}

}  // namespace scrutin::http

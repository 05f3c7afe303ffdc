// AdminHandler over a real Server: /metrics renders the registry, /api/v1/health reflects the
// checks (200 / 503), other paths and methods get JSON errors.
#include "http/admin.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <boost/asio/ip/address.hpp>

#include "http/test_client.hpp"

namespace scrutin::http {
namespace {

using testing::TestClient;

TEST(AdminHandlerTest, ServesMetricsAndHealth) {
  metrics::Registry registry;
  registry.AddCounter("widgets_total", "Widgets.").Get().Increment(3);
  std::atomic<bool> healthy{true};
  AdminHandler handler({registry,
                        [&] {
                          return std::vector<ports::HealthCheck>{
                              {"queue", true, "ok"}, {"store", healthy.load(), "redis: refused"}};
                        },
                        "validator"});
  Server server({}, handler);
  auto bound = server.Start({boost::asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(bound.ok());
  TestClient c(bound->port());

  auto m = c.Request("GET", "/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->result_int(), 200u);
  EXPECT_NE(m->body().find("widgets_total 3"), std::string::npos);

  auto h = c.Request("GET", "/api/v1/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->result_int(), 200u);
  EXPECT_NE(h->body().find(R"("status":"ok")"), std::string::npos);
  EXPECT_NE(h->body().find(R"("role":"validator")"), std::string::npos);
  EXPECT_NE(h->body().find(R"("store":"ok")"), std::string::npos);

  healthy = false;
  h = c.Request("GET", "/api/v1/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->result_int(), 503u);
  EXPECT_NE(h->body().find(R"("store":"redis: refused")"), std::string::npos);
  // /health is the same answer (the admin port's name for it), details included.
  h = c.Request("GET", "/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->result_int(), 503u);
  EXPECT_NE(h->body().find(R"("store":"redis: refused")"), std::string::npos);

  auto nf = c.Request("GET", "/api/v1/vote");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->result_int(), 404u);
  EXPECT_NE(nf->body().find(R"("error":"not_found")"), std::string::npos);

  auto post = c.Request("POST", "/metrics");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->result_int(), 405u);
  server.Stop();
}

class AdminActionsTest : public ::testing::Test {
 protected:
  AdminActionsTest() {
    law_.id = "L2026-001";
    law_.title_fr = law_.title_en = "Loi";
    law_.opens_at = *core::ParseTimestamp("2026-11-01T00:00:00Z");
    law_.closes_at = *core::ParseTimestamp("2026-11-02T00:00:00Z");
  }
  void Start(std::string token) {
    LawActions actions;
    actions.close = [this](const std::string& id) -> core::Result<core::Law, AdminRefusal> {
      calls_.push_back("close " + id);
      if (id != law_.id) return core::Fail(AdminRefusal{404, "unknown_law", "No such law."});
      return law_;
    };
    actions.extend = [this](const std::string& id,
                            core::Timestamp at) -> core::Result<core::Law, AdminRefusal> {
      calls_.push_back("extend " + id + " " + core::FormatTimestamp(at));
      law_.closes_at = at;
      return law_;
    };
    actions.on_action = [this](std::string_view action, const core::Law&) {
      logged_.emplace_back(action);
    };
    handler_ = std::make_unique<AdminHandler>(
        AdminConfig{registry_, nullptr, "serve", "embedded", std::move(token), actions});
    server_ = std::make_unique<Server>(ServerOptions{}, *handler_);
    auto bound = server_->Start({boost::asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(bound.ok());
    port_ = bound->port();
  }
  ~AdminActionsTest() override {
    if (server_) server_->Stop();
  }

  static constexpr std::string_view kAuth = "Authorization: Bearer s3cret-token-0123456789\r\n";
  metrics::Registry registry_;
  core::Law law_;
  std::vector<std::string> calls_, logged_;
  std::unique_ptr<AdminHandler> handler_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
};

TEST_F(AdminActionsTest, EveryRequestNeedsTheToken) {
  Start("s3cret-token-0123456789");
  TestClient c(port_);
  for (auto [method, path] : {std::pair{"GET", "/metrics"}, {"GET", "/health"},
                              {"POST", "/admin/v1/laws/L2026-001/close"}}) {
    auto none = c.Request(method, path);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->result_int(), 401u) << path;
    EXPECT_NE(none->body().find(R"("error":"unauthorized")"), std::string::npos);
    EXPECT_EQ(std::string((*none)["WWW-Authenticate"]), "Bearer realm=\"scrutin-admin\"");
    for (std::string_view wrong : {"Authorization: Bearer s3cret-token-0123456788\r\n",
                                   "Authorization: Bearer s3cret\r\n",
                                   "Authorization: Basic s3cret-token-0123456789\r\n"}) {
      auto bad = c.Request(method, path, {}, "application/json", wrong);
      ASSERT_TRUE(bad);
      EXPECT_EQ(bad->result_int(), 401u) << path << " " << wrong;
    }
  }
  EXPECT_TRUE(calls_.empty()) << "nothing done without the token";
  auto ok = c.Request("GET", "/metrics", {}, "application/json", kAuth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result_int(), 200u);
}

TEST_F(AdminActionsTest, CloseAndExtendAnswerTheLaw) {
  Start("s3cret-token-0123456789");
  TestClient c(port_);
  auto closed = c.Request("POST", "/admin/v1/laws/L2026-001/close", {}, "application/json", kAuth);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->result_int(), 200u);
  EXPECT_NE(closed->body().find(R"("law_id":"L2026-001")"), std::string::npos);
  auto unknown = c.Request("POST", "/admin/v1/laws/L2099-001/close", {}, "application/json", kAuth);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->result_int(), 404u);
  EXPECT_NE(unknown->body().find(R"("error":"unknown_law")"), std::string::npos);

  auto extended = c.Request("POST", "/admin/v1/laws/L2026-001/extend",
                            R"({"closes_at":"2026-11-03T00:00:00+01:00"})", "application/json",
                            kAuth);
  ASSERT_TRUE(extended);
  EXPECT_EQ(extended->result_int(), 200u);
  EXPECT_NE(extended->body().find(R"("closes_at":"2026-11-02T23:00:00.000Z")"), std::string::npos)
      << extended->body();
  EXPECT_EQ(calls_, (std::vector<std::string>{"close L2026-001", "close L2099-001",
                                              "extend L2026-001 2026-11-02T23:00:00.000Z"}));
  EXPECT_EQ(logged_, (std::vector<std::string>{"close", "extend"}));
}

TEST_F(AdminActionsTest, AMalformedExtensionChangesNothing) {
  Start("s3cret-token-0123456789");
  TestClient c(port_);
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"not json", R"("error":"malformed_json")"},
      {"[1]", R"("error":"malformed_json")"},
      {"{}", R"("closes_at":"missing")"},
      {R"({"closes_at":"tomorrow"})", R"("closes_at":"format")"},
      {R"({"closes_at":5})", R"("closes_at":"format")"},
      {R"({"closes_at":"2026-11-03T00:00:00Z","why":"x"})", R"("why":"unknown_field")"},
  };
  for (auto [body, expect] : cases) {
    auto r = c.Request("POST", "/admin/v1/laws/L2026-001/extend", body, "application/json", kAuth);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 400u) << body;
    EXPECT_NE(r->body().find(expect), std::string::npos) << body << " -> " << r->body();
  }
  auto get = c.Request("GET", "/admin/v1/laws/L2026-001/close", {}, "application/json", kAuth);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->result_int(), 405u);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(AdminActionsTest, WithoutATokenTheActionsAreDisabled) {
  Start("");
  TestClient c(port_);
  auto m = c.Request("GET", "/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->result_int(), 200u) << "metrics and health stay open on a port without a token";
  auto close = c.Request("POST", "/admin/v1/laws/L2026-001/close");
  ASSERT_TRUE(close);
  EXPECT_EQ(close->result_int(), 401u);
  EXPECT_NE(close->body().find("--admin-token-file"), std::string::npos);
  EXPECT_TRUE(calls_.empty());
}

// The probes answer without the token (a Kubernetes httpGet probe cannot read a Secret) and say
// nothing but a status word; everything else keeps requiring it.
TEST(AdminHandlerTest, ProbesAnswerWithoutTheToken) {
  metrics::Registry registry;
  std::atomic<bool> healthy{true};
  std::atomic<int> health_calls{0};
  AdminHandler handler(AdminConfig{registry,
                                   [&] {
                                     ++health_calls;
                                     return std::vector<ports::HealthCheck>{
                                         {"queue", true, "ok"},
                                         {"store", healthy.load(), "redis 10.0.0.7:6379 refused"}};
                                   },
                                   "validator", "distributed", "s3cret-token-0123456789abcdef012",
                                   {}});
  Server server({}, handler);
  auto bound = server.Start({boost::asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(bound.ok());
  TestClient c(bound->port());

  auto live = c.Request("GET", "/livez");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->result_int(), 200u);
  EXPECT_EQ(live->body(), R"({"status":"ok"})");
  EXPECT_EQ(health_calls.load(), 0) << "liveness consults no backend";
  auto ready = c.Request("GET", "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->result_int(), 200u);
  EXPECT_EQ(ready->body(), R"({"status":"ok"})");
  auto head = c.Request("HEAD", "/readyz?verbose=1");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->result_int(), 200u);

  healthy = false;
  ready = c.Request("GET", "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->result_int(), 503u);
  EXPECT_EQ(ready->body(), R"({"status":"degraded"})") << "no check's name or detail";
  live = c.Request("GET", "/livez");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->result_int(), 200u) << "a failing backend is not a reason to restart";

  for (const char* path : {"/health", "/api/v1/health", "/metrics"}) {
    auto r = c.Request("GET", path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 401u) << path << " still needs the token";
    EXPECT_EQ(r->body().find("10.0.0.7"), std::string::npos);
  }
  auto post = c.Request("POST", "/readyz");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->result_int(), 405u);
  server.Stop();
}

TEST(AdminHandlerTest, NoChecksIsNotHealthy) {
  auto r = AdminHandler::HealthResponse({}, "aggregator");
  EXPECT_EQ(r.status, 503u);
}

}  // namespace
}  // namespace scrutin::http

// AdminHandler over a real Server: /metrics renders the registry, /api/v1/health reflects the
// checks (200 / 503), other paths and methods get JSON errors.
#include "http/admin.hpp"

#include <gtest/gtest.h>

#include <atomic>
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

TEST(AdminHandlerTest, NoChecksIsNotHealthy) {
  auto r = AdminHandler::HealthResponse({}, "aggregator");
  EXPECT_EQ(r.status, 503u);
}

}  // namespace
}  // namespace scrutin::http

#include "http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "http/test_client.hpp"
#include "http/wiping_buffer.hpp"

namespace scrutin::http {
namespace {

using namespace std::chrono_literals;
using testing::Header;
using testing::TestClient;
using testing::TestResponse;

// Answers "<METHOD> <target> <body size>" at once, except:
//   /hold   keeps the responder until Release() (answered then from the test's thread)
//   /throw  throws; /drop destroys the responder without answering
class TestHandler : public Handler {
 public:
  void Handle(Request& req, Responder responder) override {
    std::string target(req.target().data(), req.target().size());
    ++handled;
    if (target == "/hold") {
      core::MutexLock lock(mu_);
      held_.push_back(std::move(responder));
      cv_.NotifyAll();
      return;
    }
    if (target == "/throw") throw std::runtime_error("boom");
    if (target == "/drop") return;
    Response r;
    r.content_type = "text/plain";
    r.body = std::string(req.method_string().data(), req.method_string().size()) + " " + target +
             " " + std::to_string(req.body().size());
    r.AddHeader("X-Test", "1");
    responder.Send(std::move(r));
  }

  bool WaitHeld(std::size_t n, std::chrono::milliseconds wait = 5s) {
    core::MutexLock lock(mu_);
    return cv_.WaitFor(lock, wait, [&]() REQUIRES(mu_) { return held_.size() >= n; });
  }

  // Answers the oldest held request from the calling thread.
  void Release(unsigned status = 200) {
    Responder r = [&] {
      core::MutexLock lock(mu_);
      Responder front = std::move(held_.front());
      held_.pop_front();
      return front;
    }();
    Response resp;
    resp.status = status;
    resp.body = "released";
    r.Send(std::move(resp));
  }

  std::atomic<int> handled{0};

 private:
  core::Mutex mu_;
  core::CondVar cv_;
  std::deque<Responder> held_;
};

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    if (options.threads == 0) options.threads = 2;
    options.log = [this](std::string_view event, std::string_view) {
      core::MutexLock lock(log_mu_);
      events_.emplace_back(event);
    };
    server_ = std::make_unique<Server>(std::move(options), handler_);
    auto bound = server_->Start({boost::asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(bound.ok()) << bound.error();
    port_ = bound->port();
  }

  void TearDown() override {
    if (server_) server_->Stop(1s);
  }

  // Starts the server with per-client limits (the table is the fixture's: it outlives the server).
  void StartWithClients(ClientLimits limits, ServerOptions options = {}) {
    clients_ = std::make_unique<ClientTable>(limits);
    options.clients = clients_.get();
    StartServer(std::move(options));
  }

  TestHandler handler_;
  std::unique_ptr<ClientTable> clients_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
  core::Mutex log_mu_;
  std::vector<std::string> events_;
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  TestClient c(port_);
  for (int i = 0; i < 5; ++i) {
    auto r = c.Request("GET", "/x" + std::to_string(i));
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_EQ(r->body(), "GET /x" + std::to_string(i) + " 0");
    EXPECT_EQ(Header(*r, "X-Test"), "1");
    EXPECT_EQ(Header(*r, "Content-Type"), "text/plain");
    EXPECT_FALSE(Header(*r, "Date").empty());
    EXPECT_TRUE(r->keep_alive());
  }
  EXPECT_EQ(server_->connections(), 1u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestClient c(port_);
  ASSERT_TRUE(c.Send(
      "GET /a HTTP/1.1\r\nHost: t\r\n\r\nPOST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\n"
      "xyzGET /c HTTP/1.1\r\nHost: t\r\n\r\n"));
  for (std::string want : {"GET /a 0", "POST /b 3", "GET /c 0"}) {
    auto r = c.Read();
    ASSERT_TRUE(r) << want;
    EXPECT_EQ(r->body(), want);
  }
}

TEST_F(ServerTest, HeadHasContentLengthButNoBody) {
  StartServer();
  TestClient c(port_);
  auto r = c.Request("HEAD", "/page");
  ASSERT_TRUE(r);
  EXPECT_EQ(Header(*r, "Content-Length"), std::to_string(std::string("HEAD /page 0").size()));
  EXPECT_EQ(r->body(), "");
  // The connection is still in sync: no body bytes were sent.
  auto next = c.Request("GET", "/after");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), "GET /after 0");
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAliveAsked) {
  StartServer();
  {
    TestClient c(port_);
    ASSERT_TRUE(c.Send("GET /old HTTP/1.0\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(Header(*r, "Connection"), "close");
    EXPECT_TRUE(c.WaitClosed(2s));
  }
  TestClient c(port_);
  ASSERT_TRUE(c.Send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(Header(*r, "Connection"), "keep-alive");
  ASSERT_TRUE(c.Send("GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_TRUE(c.Read());
}

TEST_F(ServerTest, OversizedHeaderGets431AndClose) {
  StartServer();
  TestClient c(port_);
  std::string big = "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  c.Send(big);
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 431u);
  EXPECT_NE(r->body().find("\"error\":\"header_too_large\""), std::string::npos);
  EXPECT_TRUE(c.WaitClosed(3s));
  // A long target counts against the same limit.
  TestClient c2(port_);
  c2.Send("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r2 = c2.Read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->result_int(), 431u);
}

TEST_F(ServerTest, DeclaredBodyOverLimitIsRefusedBeforeReadingIt) {
  StartServer();
  TestClient c(port_);
  ASSERT_TRUE(
      c.Send("POST /v HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: 100000000\r\n\r\n{\"nas\":"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 413u);
  EXPECT_EQ(Header(*r, "Connection"), "close");
  EXPECT_NE(r->body().find("\"error\":\"payload_too_large\""), std::string::npos);
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(ServerTest, BodyAtLimitIsAcceptedAndOneByteMoreIsNot) {
  StartServer();
  TestClient c(port_);
  auto ok = c.Request("POST", "/v", std::string(4096, ' '));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result_int(), 200u);
  EXPECT_EQ(ok->body(), "POST /v 4096");
  auto big = c.Request("POST", "/v", std::string(4097, ' '));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->result_int(), 413u);
}

TEST_F(ServerTest, ChunkedBodyOverLimitIsRefusedWhileReading) {
  StartServer();
  TestClient c(port_);
  std::string chunk(1000, ' ');
  std::string body;
  for (int i = 0; i < 8; ++i) body += "3e8\r\n" + chunk + "\r\n";
  body += "0\r\n\r\n";
  c.Send("POST /v HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 413u);
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(ServerTest, MalformedRequestsGet400AndTheServerGoesOn) {
  StartServer();
  for (std::string junk :
       {std::string("\x01\x02garbage\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("POST /v HTTP/1.1\r\nContent-Length: -5\r\n\r\n")}) {
    TestClient c(port_);
    c.Send(junk);
    auto r = c.Read();
    ASSERT_TRUE(r) << junk;
    EXPECT_EQ(r->result_int(), 400u) << junk;
    EXPECT_NE(r->body().find("\"error\":\"bad_request\""), std::string::npos);
  }
  TestClient c(port_);
  auto r = c.Request("GET", "/still-here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
}

TEST_F(ServerTest, Expect100ContinueIsHonoured) {
  StartServer();
  TestClient c(port_);
  ASSERT_TRUE(
      c.Send("POST /v HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->result_int(), 100u);
  ASSERT_TRUE(c.Send("hello"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "POST /v 5");
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  ServerOptions o;
  o.idle_timeout = 300ms;
  o.sweep_period = 50ms;
  StartServer(o);
  TestClient c(port_);
  ASSERT_TRUE(c.Request("GET", "/x"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitClosed(3s));
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2s);
}

TEST_F(ServerTest, SlowClientIsCutOffByRequestTimeout) {
  ServerOptions o;
  o.idle_timeout = 10s;
  o.request_timeout = 300ms;
  o.sweep_period = 50ms;
  StartServer(o);
  TestClient c(port_);
  // A slowloris client: the header trickles in and never completes.
  ASSERT_TRUE(c.Send("GET /slow HTTP/1.1\r\n"));
  std::this_thread::sleep_for(100ms);
  c.Send("Host: t\r\n");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitClosed(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(ServerTest, ResponseMayComeFromAnotherThread) {
  StartServer();
  TestClient c(port_);
  ASSERT_TRUE(c.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(handler_.WaitHeld(1));
  std::thread([&] { handler_.Release(201); }).join();
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 201u);
  EXPECT_EQ(r->body(), "released");
  // And the connection goes on.
  auto next = c.Request("GET", "/next");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), "GET /next 0");
}

TEST_F(ServerTest, HandlerFailuresBecome500) {
  StartServer();
  TestClient c(port_);
  for (const char* target : {"/throw", "/drop"}) {
    auto r = c.Request("GET", target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->result_int(), 500u) << target;
    EXPECT_NE(r->body().find("\"error\":\"internal_error\""), std::string::npos);
  }
  core::MutexLock lock(log_mu_);
  EXPECT_NE(std::find(events_.begin(), events_.end(), "handler_exception"), events_.end());
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreClosed) {
  ServerOptions o;
  o.max_connections = 2;
  StartServer(o);
  auto a = std::make_unique<TestClient>(port_);
  TestClient b(port_);
  ASSERT_TRUE(a->Request("GET", "/a"));
  ASSERT_TRUE(b.Request("GET", "/b"));
  TestClient third(port_);
  third.Send("GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_FALSE(third.Read());
  // Once one closes, new connections are served again.
  a.reset();
  for (int i = 0; i < 200 && server_->connections() > 1; ++i) std::this_thread::sleep_for(10ms);
  TestClient fourth(port_);
  EXPECT_TRUE(fourth.Request("GET", "/d"));
}

TEST_F(ServerTest, AClientAtItsConnectionCapDoesNotStopOthers) {
  ClientLimits limits;
  limits.max_connections = 2;
  StartWithClients(limits);
  TestClient a(port_), b(port_);
  ASSERT_TRUE(a.Request("GET", "/a"));
  ASSERT_TRUE(b.Request("GET", "/b"));
  TestClient third(port_);
  third.Send("GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_FALSE(third.Read());
  TestClient other(port_, 5s, "127.0.0.2");
  EXPECT_TRUE(other.Request("GET", "/d"));
  EXPECT_GE(server_->connections_refused(), 1u);
}

TEST_F(ServerTest, AFloodingClientGets429ScopeClientAndOthersAreServed) {
  ClientLimits limits;
  limits.write_rate = 5;
  limits.write_burst = 5;
  StartWithClients(limits);
  TestClient flood(port_);
  std::vector<unsigned> statuses;
  TestResponse refusal;
  for (int i = 0; i < 6; ++i) {
    auto r = flood.Request("POST", "/v", "{}");
    ASSERT_TRUE(r);
    statuses.push_back(r->result_int());
    if (r->result_int() == 429) refusal = *r;
  }
  // The burst, then a refusal (each pause lets a token come back, so no more is asserted).
  EXPECT_EQ(statuses, (std::vector<unsigned>{200, 200, 200, 200, 200, 429}));
  EXPECT_NE(refusal.body().find("\"scope\":\"client\""), std::string::npos);
  EXPECT_NE(refusal.body().find("\"error\":\"rate_limited\""), std::string::npos);
  EXPECT_FALSE(Header(refusal, "Retry-After").empty());
  EXPECT_EQ(server_->requests_rate_limited(), 1u);
  // Reads have their own bucket; another address has its own allowance.
  EXPECT_EQ(flood.Request("GET", "/r")->result_int(), 200u);
  TestClient other(port_, 5s, "127.0.0.2");
  EXPECT_EQ(other.Request("POST", "/v", "{}")->result_int(), 200u);
}

TEST_F(ServerTest, ARateLimitedConnectionIsNotReadUntilRetryAfter) {
  ClientLimits limits;
  limits.write_rate = 2;
  limits.write_burst = 1;
  StartWithClients(limits);
  TestClient c(port_);
  // Pipelined: the second is refused, and the third waits for the pause to end.
  std::string req = "POST /v HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";
  ASSERT_TRUE(c.Send(req + req + req));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.Read()->result_int(), 200u);
  EXPECT_EQ(c.Read()->result_int(), 429u);
  auto third = c.Read();
  ASSERT_TRUE(third);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(third->result_int(), 200u);
}

TEST_F(ServerTest, MalformedRequestsCostTheirSenderMore) {
  ClientLimits limits;
  limits.write_rate = 1;
  limits.write_burst = 2 * Server::kMalformedCost;
  StartWithClients(limits);
  // Two garbage requests empty a burst that 2 * kMalformedCost valid requests would need.
  for (int i = 0; i < 2; ++i) {
    TestClient c(port_);
    c.Send("NOT HTTP AT ALL\r\n\r\n");
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 400u);
  }
  TestClient c(port_);
  EXPECT_EQ(c.Request("POST", "/v", "{}")->result_int(), 429u);
}

TEST_F(ServerTest, TransferEncodingOtherThanChunkedIs400AndClose) {
  StartServer();
  TestClient c(port_);
  // Read as "no body" by a lenient parser, the body would be answered as a second request.
  c.Send(
      "POST /v HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 400u);
  EXPECT_EQ(Header(*r, "Connection"), "close");
  EXPECT_FALSE(c.Read());
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(ServerTest, AChunkExtensionBombIsRefusedAtOnce) {
  StartServer();
  TestClient c(port_);
  c.Send("POST /v HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
         std::string(13000, 'a'));
  auto start = std::chrono::steady_clock::now();
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 431u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);  // not the 10 s request timeout
}

TEST_F(ServerTest, ATrustedProxyNamesTheClient) {
  ClientLimits limits;
  limits.write_rate = 1;
  limits.write_burst = 1;
  ServerOptions o;
  o.trusted_proxies = *TrustedProxies::Parse("127.0.0.1");
  StartWithClients(limits, std::move(o));
  // Through the proxy, two clients each get their own allowance...
  TestClient proxy(port_);
  auto as = [&](const char* client) {
    return proxy.Request("POST", "/v", "{}", "application/json",
                         std::string("X-Forwarded-For: ") + client + "\r\n");
  };
  EXPECT_EQ(as("203.0.113.1")->result_int(), 200u);
  EXPECT_EQ(as("203.0.113.2")->result_int(), 200u);
  EXPECT_EQ(as("203.0.113.1")->result_int(), 429u);
  // ...a PROXY header names the client for the whole connection...
  TestClient v1(port_);
  v1.Send("PROXY TCP4 203.0.113.3 127.0.0.1 5000 80\r\n");
  EXPECT_EQ(v1.Request("POST", "/v", "{}")->result_int(), 200u);
  EXPECT_EQ(v1.Request("POST", "/v", "{}")->result_int(), 429u);
  // ...and an untrusted peer cannot do either.
  TestClient direct(port_, 5s, "127.0.0.2");
  direct.Send("PROXY TCP4 203.0.113.4 127.0.0.1 5000 80\r\n");
  auto r = direct.Request("POST", "/v", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 400u);
}

TEST_F(ServerTest, ManyConcurrentConnections) {
  StartServer();
  constexpr int kClients = 32;
  constexpr int kRequests = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      TestClient c(port_);
      for (int i = 0; i < kRequests; ++i) {
        std::string target = "/c" + std::to_string(t) + "/" + std::to_string(i);
        auto r = c.Request("GET", target);
        if (r && r->body() == "GET " + target + " 0") ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
}

TEST_F(ServerTest, GracefulStopFinishesInFlightRequestAndClosesIdleOnes) {
  StartServer();
  TestClient idle(port_);
  ASSERT_TRUE(idle.Request("GET", "/warm"));
  auto busy = std::make_unique<TestClient>(port_);
  ASSERT_TRUE(busy->Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(handler_.WaitHeld(1));

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->Stop(5s);
    stopped = true;
  });
  EXPECT_TRUE(idle.WaitClosed(2s));  // idle keep-alive connections go at once
  EXPECT_FALSE(stopped.load());      // but the in-flight request holds the stop
  EXPECT_TRUE(server_->stopping());
  handler_.Release();
  auto r = busy->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "released");
  EXPECT_EQ(Header(*r, "Connection"), "close");
  EXPECT_TRUE(busy->WaitClosed(2s));
  busy.reset();
  stopper.join();
  EXPECT_TRUE(stopped.load());
  EXPECT_THROW(TestClient late(port_), std::runtime_error);  // no longer accepting
}

TEST_F(ServerTest, StopGivesUpOnRequestsAfterTheGracePeriod) {
  StartServer();
  TestClient busy(port_);
  ASSERT_TRUE(busy.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(handler_.WaitHeld(1));
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop(200ms);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(busy.WaitClosed(1s));
  handler_.Release();  // a late answer to a closed connection is harmless
  server_.reset();
}

TEST(ParseListenAddressTest, AcceptsTheDocumentedForms) {
  auto a = ParseListenAddress("127.0.0.1:8000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port(), 8000);
  EXPECT_EQ(a->address().to_string(), "127.0.0.1");
  auto b = ParseListenAddress("[::1]:9");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->address().is_v6());
  auto c = ParseListenAddress(":8080");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->address().to_string(), "0.0.0.0");
  auto d = ParseListenAddress("localhost:1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->address().to_string(), "127.0.0.1");
  for (const char* bad : {"", "8000", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "host:80",
                          "::1:80", "[::1]80", "1.2.3.4:8x"}) {
    auto r = ParseListenAddress(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().find("host:port"), std::string::npos);
    }
  }
}

TEST(StartTest, ReportsAnAddressInUse) {
  TestHandler h;
  ServerOptions one;
  one.threads = 1;
  Server first(one, h);
  auto bound = first.Start({boost::asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(bound.ok());
  Server second(one, h);
  auto again = second.Start(*bound);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("127.0.0.1:" + std::to_string(bound->port())), std::string::npos);
}

TEST(WipingBufferTest, ConsumedAndCompactedBytesAreZeroed) {
  WipingBuffer b(16);
  auto fill = [&](std::string_view s) {
    auto mb = b.prepare(s.size());
    std::memcpy(mb.data(), s.data(), s.size());
    b.commit(s.size());
  };
  fill("0123456789");
  const char* base = static_cast<const char*>(b.data().data());
  b.consume(4);
  EXPECT_EQ(std::string(base, 4), std::string(4, '\0'));
  EXPECT_EQ(std::string(static_cast<const char*>(b.data().data()), b.size()), "456789");
  // Needs 8 bytes at the end but only 6 remain: the live bytes move to the front.
  fill("abcdefgh");
  EXPECT_EQ(std::string(static_cast<const char*>(b.data().data()), b.size()), "456789abcdefgh");
  EXPECT_EQ(b.data().data(), static_cast<const void*>(base));
  b.consume(b.size());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(std::string(base, 16), std::string(16, '\0'));
  EXPECT_THROW(b.prepare(17), std::length_error);
}

}  // namespace
}  // namespace scrutin::http

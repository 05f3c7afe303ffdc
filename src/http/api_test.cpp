#include "http/api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "core/request_id.hpp"
#include "http/server.hpp"
#include "http/test_client.hpp"
#include "ports/testing/contract_votes.hpp"
#include "ports/testing/fake_vote_intake.hpp"
#include "ports/testing/fake_vote_queries.hpp"

namespace scrutin::http {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Header;
using testing::TestClient;
using testing::TestResponse;

constexpr std::string_view kNas = "046 454 286";  // Luhn-valid
constexpr std::string_view kNasDigits = "046454286";
constexpr std::string_view kCode = "abc123";

core::Timestamp At(std::string_view rfc3339) { return *core::ParseTimestamp(rfc3339); }

// The shared fakes: an intake whose answer the test chooses (answering from its own thread, like
// the real ones) and queries over statuses and tallies the test sets.
using FakeIntake = ports::testing::FakeVoteIntake;
using FakeQueries = ports::testing::FakeVoteQueries;

core::Ballot TestBallot() {
  std::vector<core::Law> laws;
  auto law = [&](std::string id, std::string opens, std::string closes, core::ResultsPolicy p) {
    laws.push_back({id, "Loi " + id + " « sûre »", "Act \"" + id + "\"", At(opens), At(closes), p});
  };
  law("L2025-001", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", core::ResultsPolicy::kLive);
  law("L2025-002", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z",
      core::ResultsPolicy::kAfterClose);
  law("L2025-003", "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z",
      core::ResultsPolicy::kAfterClose);
  law("L2025-004", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", core::ResultsPolicy::kLive);
  return core::Ballot(std::move(laws));
}

core::CredentialHasher TestHasher() {
  return core::CredentialHasher::Create(core::HashScheme::kSha256, {}).value();
}

class ApiTest : public ::testing::Test {
 protected:
  ApiTest()
      : ballot_(TestBallot()),
        hasher_(TestHasher()),
        metrics_(registry_),
        now_(At("2026-11-01T12:00:00Z")) {}

  void Start(double rate_limit = 0, std::filesystem::path web_root = {}) {
    ApiConfig config{.ballot = ballot_,
                     .hasher = hasher_,
                     .sealer = ports::testing::TestSealer(),
                     .intake = intake_,
                     .queries = queries_,
                     .metrics = metrics_,
                     .shape = "embedded",
                     .rate_limit = rate_limit,
                     .rate_burst = rate_limit > 0 ? 2.0 : 0.0,
                     .web_root = std::move(web_root),
                     .clock = [this] {
                       core::MutexLock lock(clock_mu_);
                       return now_;
                     }};
    config.credential_limits.attempts = credential_attempts_;
    config.lookups = lookups_;
    auto api = Api::Create(std::move(config));
    ASSERT_TRUE(api.ok()) << api.error();
    api_ = std::move(api).value();
    ServerOptions options;
    options.threads = 2;
    server_ = std::make_unique<Server>(std::move(options), *api_);
    auto bound = server_->Start({boost::asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(bound.ok()) << bound.error();
    port_ = bound->port();
  }

  void TearDown() override {
    if (server_) server_->Stop(1s);
  }

  void SetNow(std::string_view t) {
    core::MutexLock lock(clock_mu_);
    now_ = At(t);
  }

  std::uint32_t credential_attempts_ = 60;  // the product's default
  BoundedExecutor* lookups_ = nullptr;      // status lookups inline unless a test sets a pool

  static std::string VoteBody(std::string_view nas = kNas, std::string_view code = kCode,
                              std::string_view law = "L2025-001", std::string_view vote = "oui") {
    return json{{"nas", nas}, {"code", code}, {"law_id", law}, {"vote", vote}}.dump();
  }

  TestResponse Post(std::string_view body, std::string_view content_type = "application/json") {
    TestClient c(port_);
    auto r = c.Request("POST", "/api/v1/vote", body, content_type);
    EXPECT_TRUE(r);
    return r ? *r : TestResponse{};
  }

  TestResponse Get(std::string_view target) {
    TestClient c(port_);
    auto r = c.Request("GET", target);
    EXPECT_TRUE(r);
    return r ? *r : TestResponse{};
  }

  // The body is an API error (docs/openapi.yaml): {"error": code, "message": sentence}, echoing no
  // credential.
  static json ExpectError(const TestResponse& r, unsigned status, std::string_view code) {
    EXPECT_EQ(r.result_int(), status) << r.body();
    EXPECT_EQ(Header(r, "Content-Type"), "application/json");
    json j = json::parse(r.body(), nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.body();
    if (!j.is_object()) return j;
    EXPECT_EQ(j.value("error", ""), code) << r.body();
    EXPECT_FALSE(j.value("message", "").empty()) << r.body();
    EXPECT_EQ(r.body().find(kNasDigits), std::string::npos);
    EXPECT_EQ(r.body().find("046 454"), std::string::npos);
    EXPECT_EQ(r.body().find("abc123"), std::string::npos);
    EXPECT_EQ(r.body().find("ABC123"), std::string::npos);
    return j;
  }

  std::string Metrics() { return Get("/metrics").body(); }

  core::Ballot ballot_;
  core::CredentialHasher hasher_;
  metrics::Registry registry_;
  metrics::VoteMetrics metrics_;
  FakeIntake intake_;
  FakeQueries queries_;
  core::Mutex clock_mu_;
  core::Timestamp now_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
};

TEST_F(ApiTest, AcceptedVoteIsHashedSubmittedAndAnswered202) {
  Start();
  auto r = Post(VoteBody(kNas, kCode, "L2025-001", "OUI"));
  ASSERT_EQ(r.result_int(), 202u) << r.body();
  json j = json::parse(r.body());
  std::string id = j["request_id"];
  ASSERT_TRUE(core::RequestId::Parse(id)) << id;
  EXPECT_EQ(j["status"], "accepted");
  EXPECT_EQ(j["status_url"], "/api/v1/vote/" + id);
  EXPECT_EQ(Header(r, "Location"), "/api/v1/vote/" + id);
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");

  ASSERT_EQ(intake_.count(), 1u);
  const core::VoteEnvelope v = intake_.Received(0);
  EXPECT_EQ(v.request_id.ToString(), id);
  EXPECT_EQ(v.digest, hasher_.Hash(kNasDigits, "ABC123", "L2025-001"));
  EXPECT_EQ(v.law_id, "L2025-001");
  // The choice left the api sealed, with the voter's receipt, for this law only.
  auto opened = ports::testing::TestSealer().Open("L2025-001", v.ballot);
  ASSERT_TRUE(opened.ok()) << opened.error();
  EXPECT_EQ(opened->choice, core::Choice::kOui);
  EXPECT_EQ(opened->receipt, core::Receipt(v.request_id));
  EXPECT_FALSE(ports::testing::TestSealer().Open("L2025-002", v.ballot).ok());
  EXPECT_EQ(v.received_at, now_);

  std::string m = Metrics();
  EXPECT_NE(m.find("votes_submitted_total 1\n"), std::string::npos);
  EXPECT_NE(m.find("votes_validated_total{status=\"accepted\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("validation_latency_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(m.find("api_request_duration_seconds_count{route=\"vote\",code=\"202\"} 1\n"),
            std::string::npos);
}

TEST_F(ApiTest, DecisionsAreReportedAndCounted) {
  Start();
  intake_.set_decision({core::VoteStatus::kDuplicate, 3, false});
  EXPECT_EQ(json::parse(Post(VoteBody()).body())["status"], "duplicate");
  intake_.set_decision({core::VoteStatus::kInvalid, 1, false});
  EXPECT_EQ(json::parse(Post(VoteBody()).body())["status"], "invalid");
  intake_.set_decision({core::VoteStatus::kPending, 0, false});
  EXPECT_EQ(json::parse(Post(VoteBody()).body())["status"], "pending");
  std::string m = Metrics();
  EXPECT_NE(m.find("votes_submitted_total 3\n"), std::string::npos);
  EXPECT_NE(m.find("votes_validated_total{status=\"duplicate\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("votes_validated_total{status=\"invalid\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("duplicate_attempts_total 1\n"), std::string::npos);
  // A pending decision is counted downstream, not here.
  EXPECT_NE(m.find("validation_latency_seconds_count 2\n"), std::string::npos);
}

TEST_F(ApiTest, IntakeFailuresAre503WithRetryAfter) {
  Start();
  intake_.set_mode(FakeIntake::Mode::kUnavailable);
  auto r = Post(VoteBody());
  ExpectError(r, 503, "unavailable");
  EXPECT_EQ(Header(r, "Retry-After"), "7");
  intake_.set_mode(FakeIntake::Mode::kOverloaded);
  r = Post(VoteBody());
  ExpectError(r, 503, "unavailable");
  EXPECT_EQ(Header(r, "Retry-After"), "7");
  EXPECT_NE(Metrics().find("votes_submitted_total 0\n"), std::string::npos);
}

TEST_F(ApiTest, MalformedJsonIs400) {
  Start();
  for (std::string body : {"{", "not json", "[1,2]", "\"text\"", ""}) {
    auto r = Post(body);
    ExpectError(r, 400, "malformed_json");
  }
  EXPECT_EQ(intake_.count(), 0u);
}

TEST_F(ApiTest, FieldErrorsAre400WithOneCodePerField) {
  Start();
  struct Case {
    std::string body;
    std::map<std::string, std::string> fields;
  };
  std::vector<Case> cases = {
      {VoteBody("046 454 287"), {{"nas", "checksum"}}},
      {VoteBody("04645428"), {{"nas", "format"}}},
      {VoteBody(kNas, "abc12"), {{"code", "format"}}},
      {VoteBody(kNas, kCode, "L2025-9"), {{"law_id", "format"}}},
      {VoteBody(kNas, kCode, "Z9999-999"), {{"law_id", "unknown_law"}}},
      {VoteBody(kNas, kCode, "L2025-001", "peut-être"), {{"vote", "format"}}},
      {R"({"nas":"046 454 286","code":"abc123","law_id":"L2025-001"})", {{"vote", "missing"}}},
      {R"({"nas":"046 454 286","code":"abc123","law_id":"L2025-001","vote":"oui","extra":1})",
       {{"extra", "unknown_field"}}},
      {R"({"nas":46454286,"code":"abc123","law_id":"L2025-001","vote":"oui"})",
       {{"nas", "format"}}},
      {R"({})",
       {{"nas", "missing"}, {"code", "missing"}, {"law_id", "missing"}, {"vote", "missing"}}},
  };
  for (const auto& c : cases) {
    auto r = Post(c.body);
    json j = ExpectError(r, 400, "invalid_request");
    ASSERT_TRUE(j.contains("fields")) << c.body;
    EXPECT_EQ((j["fields"].get<std::map<std::string, std::string>>()), c.fields) << c.body;
  }
  EXPECT_EQ(intake_.count(), 0u);
}

TEST_F(ApiTest, VotesOutsideTheWindowAre403PollClosed) {
  Start();
  auto closed = Post(VoteBody(kNas, kCode, "L2025-003"));
  json j = ExpectError(closed, 403, "poll_closed");
  EXPECT_EQ(j["law_id"], "L2025-003");
  EXPECT_EQ(j["opens_at"], "2026-10-01T00:00:00.000Z");
  EXPECT_EQ(j["closes_at"], "2026-10-02T00:00:00.000Z");
  auto future = Post(VoteBody(kNas, kCode, "L2025-004"));
  j = ExpectError(future, 403, "poll_closed");
  EXPECT_NE(j["message"].get<std::string>().find("not opened yet"), std::string::npos);
  // closes_at itself is outside [opens_at, closes_at).
  SetNow("2026-11-02T00:00:00Z");
  ExpectError(Post(VoteBody()), 403, "poll_closed");
  SetNow("2026-11-01T00:00:00Z");
  EXPECT_EQ(Post(VoteBody()).result_int(), 202u);
  EXPECT_EQ(intake_.count(), 1u);
}

TEST_F(ApiTest, WrongContentTypeIs415) {
  Start();
  for (std::string_view ct : {"text/plain", "application/x-www-form-urlencoded",
                              "multipart/form-data", "application/jsonx", ""}) {
    ExpectError(Post(VoteBody(), ct), 415, "unsupported_media_type");
  }
  EXPECT_EQ(Post(VoteBody(), "Application/JSON ; charset=utf-8").result_int(), 202u);
  EXPECT_EQ(intake_.count(), 1u);
}

TEST_F(ApiTest, BodyOverFourKiBIs413) {
  Start();
  std::string body = VoteBody();
  std::string at_limit =
      body.substr(0, body.size() - 1) + std::string(4096 - body.size(), ' ') + "}";
  ASSERT_EQ(at_limit.size(), 4096u);
  EXPECT_EQ(Post(at_limit).result_int(), 202u);
  std::string over = body.substr(0, body.size() - 1) + std::string(4097 - body.size(), ' ') + "}";
  ExpectError(Post(over), 413, "payload_too_large");
  EXPECT_EQ(intake_.count(), 1u);
}

TEST_F(ApiTest, RateLimitIs429WithRetryAfter) {
  Start(/*rate_limit=*/1);  // burst 2
  TestClient c(port_);
  std::vector<unsigned> statuses;
  TestResponse limited;
  for (int i = 0; i < 4; ++i) {
    auto r = c.Request("POST", "/api/v1/vote", VoteBody());
    ASSERT_TRUE(r);
    statuses.push_back(r->result_int());
    if (r->result_int() == 429) limited = *r;
  }
  EXPECT_EQ(statuses, (std::vector<unsigned>{202, 202, 429, 429}));
  ExpectError(limited, 429, "rate_limited");
  int retry = std::stoi(Header(limited, "Retry-After"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 2);
  // Other routes are not limited.
  EXPECT_EQ(c.Request("GET", "/api/v1/health")->result_int(), 200u);
}

TEST_F(ApiTest, GarbageDoesNotSpendTheInstanceAllowance) {
  Start(/*rate_limit=*/1);  // burst 2
  TestClient c(port_);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(c.Request("POST", "/api/v1/vote", "{}")->result_int(), 400u);
  }
  EXPECT_EQ(c.Request("POST", "/api/v1/vote", VoteBody())->result_int(), 202u);
}

TEST_F(ApiTest, OnlineGuessingIs429ScopeCredential) {
  credential_attempts_ = 3;
  Start();
  TestClient c(port_);
  const char* codes[] = {"AAAAA1", "AAAAA2", "AAAAA3", "AAAAA4", "AAAAA5"};
  std::vector<unsigned> statuses;
  TestResponse limited;
  for (const char* code : codes) {
    auto r = c.Request("POST", "/api/v1/vote", VoteBody(kNas, code));
    ASSERT_TRUE(r);
    statuses.push_back(r->result_int());
    if (r->result_int() == 429) limited = *r;
  }
  EXPECT_EQ(statuses, (std::vector<unsigned>{202, 202, 202, 429, 429}));
  ExpectError(limited, 429, "rate_limited");
  auto body = json::parse(limited.body());
  EXPECT_EQ(body["scope"], "credential");
  EXPECT_EQ(limited.body().find("046454286"), std::string::npos);
  EXPECT_EQ(limited.body().find("AAAAA5"), std::string::npos);
  EXPECT_GE(std::stoi(Header(limited, "Retry-After")), 1);
  // The same NAS on another law, and another NAS, are not affected.
  EXPECT_EQ(c.Request("POST", "/api/v1/vote", VoteBody(kNas, kCode, "L2025-002"))->result_int(),
            202u);
  EXPECT_EQ(intake_.count(), 4u);
}

TEST_F(ApiTest, WrongMethodsAre405WithAllow) {
  Start();
  TestClient c(port_);
  struct Case {
    std::string method, target, allow;
  };
  for (const auto& k : std::vector<Case>{{"GET", "/api/v1/vote", "POST"},
                                         {"PUT", "/api/v1/vote", "POST"},
                                         {"POST", "/api/v1/laws", "GET, HEAD"},
                                         {"DELETE", "/api/v1/results/L2025-001", "GET, HEAD"},
                                         {"POST", "/api/v1/vote/x", "GET, HEAD"},
                                         {"POST", "/api/v1/receipts/x", "GET, HEAD"},
                                         {"POST", "/api/v1/health", "GET, HEAD"},
                                         {"POST", "/metrics", "GET, HEAD"},
                                         {"POST", "/", "GET, HEAD"}}) {
    auto r = c.Request(k.method, k.target, k.method == "GET" ? "" : "{}");
    ASSERT_TRUE(r) << k.method << " " << k.target;
    ExpectError(*r, 405, "method_not_allowed");
    EXPECT_EQ(Header(*r, "Allow"), k.allow) << k.method << " " << k.target;
  }
}

TEST_F(ApiTest, UnknownApiPathsAre404Json) {
  Start();
  for (const char* target :
       {"/api/v1/nothing-here", "/api", "/api/v2/vote", "/api/v1/laws/x", "/api/v1/results/",
        "/api/v1/results/Z9999-999", "/api/v1/results/%2e%2e"}) {
    auto r = Get(target);
    EXPECT_EQ(r.result_int(), 404u) << target;
    ExpectError(
        r, 404,
        std::string_view(target).starts_with("/api/v1/results/") ? "unknown_law" : "not_found");
  }
}

TEST_F(ApiTest, VoteStatusReportsTheRecordAndAReceiptOnlyWhenAccepted) {
  Start();
  auto accepted = core::RequestId::Generate();
  auto duplicate = core::RequestId::Generate();
  queries_.SetStatus(accepted, {"L2025-001", core::VoteStatus::kAccepted, 1});
  queries_.SetStatus(duplicate, {"L2025-001", core::VoteStatus::kDuplicate, 3});

  std::string upper = accepted.ToString();
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  for (const std::string& text : {accepted.ToString(), upper}) {
    auto r = Get("/api/v1/vote/" + text);
    ASSERT_EQ(r.result_int(), 200u) << r.body();
    json j = json::parse(r.body());
    EXPECT_EQ(j["request_id"], accepted.ToString());
    EXPECT_EQ(j["status"], "accepted");
    EXPECT_EQ(j["law_id"], "L2025-001");
    EXPECT_EQ(j["attempt_count"], 1);
    EXPECT_EQ(j["receipt"], core::Receipt(accepted));
    EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  }
  json d = json::parse(Get("/api/v1/vote/" + duplicate.ToString()).body());
  EXPECT_EQ(d["status"], "duplicate");
  EXPECT_EQ(d["attempt_count"], 3);
  EXPECT_FALSE(d.contains("receipt"));

  ExpectError(Get("/api/v1/vote/" + core::RequestId::Generate().ToString()), 404, "not_found");
  ExpectError(Get("/api/v1/vote/not-a-uuid"), 404, "not_found");
  ExpectError(Get("/api/v1/vote/"), 404, "not_found");
  queries_.SetDown(true);
  auto down = Get("/api/v1/vote/" + accepted.ToString());
  ExpectError(down, 503, "unavailable");
  EXPECT_EQ(Header(down, "Retry-After"), "1");
}

TEST_F(ApiTest, StatusLookupsOnAPoolAreAnsweredThereOr503AtOnce) {
  BoundedExecutor pool({.threads = 1, .max_queue = 1, .deadline = 5s});
  lookups_ = &pool;
  Start();
  auto id = core::RequestId::Generate();
  queries_.SetStatus(id, {"L2025-001", core::VoteStatus::kAccepted, 1});
  auto r = Get("/api/v1/vote/" + id.ToString());
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  EXPECT_EQ(json::parse(r.body())["status"], "accepted");
  // A malformed id never reaches the pool.
  EXPECT_EQ(Get("/api/v1/vote/not-a-uuid").result_int(), 404u);

  // The store is slow: the pool's only thread is busy and its queue is full. The next lookup is
  // refused at once, 503 + Retry-After, without waiting for the store.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> busy;
  ASSERT_TRUE(pool.TrySubmit([&, released](bool) {
    busy.set_value();
    released.wait();
  }));
  busy.get_future().wait();
  ASSERT_TRUE(pool.TrySubmit([](bool) {}));
  const auto t0 = std::chrono::steady_clock::now();
  auto refused = Get("/api/v1/vote/" + id.ToString());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  ExpectError(refused, 503, "unavailable");
  EXPECT_EQ(Header(refused, "Retry-After"), "1");
  release.set_value();
  pool.Stop();
}

TEST_F(ApiTest, ResultsFollowTheResultsPolicy) {
  Start();
  queries_.SetTally({"L2025-001", 5, 3, At("2026-11-01T11:00:00Z"), 4});
  queries_.SetTally({"L2025-003", 2, 9, At("2026-10-01T12:00:00Z")});
  auto live = Get("/api/v1/results/L2025-001");
  ASSERT_EQ(live.result_int(), 200u);
  json j = json::parse(live.body());
  EXPECT_EQ(j, json({{"law_id", "L2025-001"},
                     {"oui", 5},
                     {"non", 3},
                     {"total", 8},
                     {"uncounted", 4},
                     {"updated_at", "2026-11-01T11:00:00.000Z"},
                     {"final", false}}));

  auto embargoed = Get("/api/v1/results/L2025-002");
  json e = ExpectError(embargoed, 403, "results_embargoed");
  EXPECT_EQ(e["available_at"], "2026-11-02T00:00:00.000Z");

  json closed = json::parse(Get("/api/v1/results/L2025-003").body());
  EXPECT_EQ(closed["final"], true);
  EXPECT_EQ(closed["total"], 11);

  // No vote yet: zeroes, as of now.
  json empty = json::parse(Get("/api/v1/results/L2025-004").body());
  EXPECT_EQ(empty["total"], 0);
  EXPECT_EQ(empty["updated_at"], "2026-11-01T12:00:00.000Z");

  SetNow("2026-11-02T00:00:00Z");  // L2025-002 closes: published and final
  auto after = Get("/api/v1/results/L2025-002");
  ASSERT_EQ(after.result_int(), 200u);
  EXPECT_EQ(json::parse(after.body())["final"], true);
  // Closed, but 4 ballots still wait for the mixer's last group: not final yet.
  EXPECT_EQ(json::parse(Get("/api/v1/results/L2025-001").body())["final"], false);
  queries_.SetTally({"L2025-001", 8, 4, At("2026-11-02T00:00:05Z")});
  EXPECT_EQ(json::parse(Get("/api/v1/results/L2025-001").body())["final"], true);

  queries_.SetDown(true);
  ExpectError(Get("/api/v1/results/L2025-001"), 503, "unavailable");
}

// GET /api/v1/receipts/{receipt}: counted or not, never how; typed as a voter may type it.
TEST_F(ApiTest, AReceiptIsCountedOrNotAndNeverSaysHow) {
  Start();
  queries_.AddReceipt("7K3M-Q9ZD-0R2A-4XVB", "L2025-001");
  auto r = Get("/api/v1/receipts/7K3M-Q9ZD-0R2A-4XVB");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  EXPECT_EQ(json::parse(r.body()),
            json({{"receipt", "7K3M-Q9ZD-0R2A-4XVB"}, {"law_id", "L2025-001"}, {"counted", true}}));
  // Lower case, no dashes, Crockford's look-alikes (o for 0): the same receipt.
  EXPECT_EQ(Get("/api/v1/receipts/7k3mq9zdor2a4xvb").result_int(), 200u);
  // Not counted (yet), or not a receipt at all: 404 with the reason a voter needs.
  json not_counted = ExpectError(Get("/api/v1/receipts/7K3M-Q9ZD-0R2A-4XVC"), 404, "not_found");
  EXPECT_NE(not_counted["message"].get<std::string>().find("counted in groups"),
            std::string::npos);
  ExpectError(Get("/api/v1/receipts/not-a-receipt"), 404, "not_found");
  ExpectError(Get("/api/v1/receipts/7K3M-Q9ZD-0R2A-4XV"), 404, "not_found");
  ExpectError(Get("/api/v1/receipts/7K3-MQ9ZD-0R2A-4XVB"), 404, "not_found");
  ExpectError(Get("/api/v1/receipts/"), 404, "not_found");
  queries_.SetDown(true);
  ExpectError(Get("/api/v1/receipts/7K3M-Q9ZD-0R2A-4XVB"), 503, "unavailable");
}

TEST_F(ApiTest, LawsListTheBallot) {
  Start();
  auto r = Get("/api/v1/laws");
  ASSERT_EQ(r.result_int(), 200u);
  json j = json::parse(r.body());
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0], json({{"law_id", "L2025-001"},
                        {"title", {{"fr", "Loi L2025-001 « sûre »"}, {"en", "Act \"L2025-001\""}}},
                        {"opens_at", "2026-11-01T00:00:00.000Z"},
                        {"closes_at", "2026-11-02T00:00:00.000Z"},
                        {"results", "live"}}));
  EXPECT_EQ(j[1]["results"], "after_close");
  // HEAD: same headers, no body.
  TestClient c(port_);
  auto head = c.Request("HEAD", "/api/v1/laws");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->body(), "");
  EXPECT_EQ(Header(*head, "Content-Length"), std::to_string(r.body().size()));
}

TEST_F(ApiTest, HealthReflectsTheIntakeChecks) {
  Start();
  auto ok = Get("/api/v1/health");
  ASSERT_EQ(ok.result_int(), 200u);
  EXPECT_EQ(json::parse(ok.body()), json({{"status", "ok"},
                                          {"shape", "embedded"},
                                          {"checks", {{"store", "ok"}, {"eligibility", "ok"}}}}));
  intake_.set_health({{"store", false, "database is locked"}, {"eligibility", true, ""}});
  auto bad = Get("/api/v1/health");
  EXPECT_EQ(bad.result_int(), 503u);
  json j = json::parse(bad.body());
  EXPECT_EQ(j["status"], "degraded");
  // The public health says which check fails, never how (that is for the admin port).
  EXPECT_EQ(j["checks"]["store"], "failing");
  EXPECT_EQ(j["checks"]["eligibility"], "ok");
  EXPECT_EQ(bad.body().find("locked"), std::string::npos);
}

TEST_F(ApiTest, MetricsExposeTalliesButNotEmbargoedOnes) {
  Start();
  queries_.SetTally({"L2025-001", 5, 3, At("2026-11-01T11:00:00Z")});
  queries_.SetTally({"L2025-002", 4, 4, At("2026-11-01T11:00:00Z")});
  auto r = Get("/metrics");
  ASSERT_EQ(r.result_int(), 200u);
  EXPECT_EQ(Header(r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.body();
  EXPECT_NE(m.find("votes_by_law{law_id=\"L2025-001\",choice=\"oui\"} 5\n"), std::string::npos);
  EXPECT_NE(m.find("votes_by_law{law_id=\"L2025-001\",choice=\"non\"} 3\n"), std::string::npos);
  EXPECT_NE(m.find("votes_by_law{law_id=\"L2025-003\",choice=\"oui\"} 0\n"), std::string::npos);
  EXPECT_EQ(m.find("L2025-002"), std::string::npos);
  for (const char* s : {"votes_submitted_total", "votes_validated_total", "votes_per_second",
                        "validation_latency_seconds_bucket", "api_request_duration_seconds",
                        "duplicate_attempts_total"}) {
    EXPECT_NE(m.find(s), std::string::npos) << s;
  }
}

TEST_F(ApiTest, PlaceholderPageWithoutWebRoot) {
  Start();
  auto r = Get("/");
  ASSERT_EQ(r.result_int(), 200u);
  EXPECT_EQ(Header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body().find("scrutin"), std::string::npos);
  ExpectError(Get("/app.js"), 404, "not_found");
}

TEST_F(ApiTest, StaticFilesFromTheWebRoot) {
  auto root =
      std::filesystem::temp_directory_path() / ("scrutin_api_web_" + std::to_string(::getpid()));
  std::filesystem::create_directories(root);
  std::ofstream(root / "index.html") << "<p>bonjour</p>";
  std::ofstream(root / "app.js") << "let x = 1;";
  Start(0, root);
  std::filesystem::remove_all(root);  // served from memory

  auto index = Get("/");
  ASSERT_EQ(index.result_int(), 200u);
  EXPECT_EQ(index.body(), "<p>bonjour</p>");
  EXPECT_EQ(Header(index, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(index, "Cache-Control"), "no-cache");
  auto js = Get("/app.js?v=2");
  EXPECT_EQ(Header(js, "Content-Type"), "text/javascript; charset=utf-8");

  TestClient c(port_);
  auto again = c.Request("GET", "/", "", "", "If-None-Match: " + Header(index, "ETag") + "\r\n");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->result_int(), 304u);
  EXPECT_EQ(again->body(), "");
  EXPECT_TRUE(Header(*again, "Content-Length").empty());
  auto next = c.Request("GET", "/app.js");  // the connection is still in sync after a 304
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), "let x = 1;");

  ExpectError(Get("/../../etc/passwd"), 404, "not_found");
  ExpectError(Get("/%2e%2e/%2e%2e/etc/passwd"), 404, "not_found");
}

TEST_F(ApiTest, MissingWebRootIsAStartUpError) {
  ApiConfig config{.ballot = ballot_,
                   .hasher = hasher_,
                   .sealer = ports::testing::TestSealer(),
                   .intake = intake_,
                   .queries = queries_,
                   .metrics = metrics_,
                   .web_root = "/nonexistent/scrutin/web",
                   .clock = {}};
  auto api = Api::Create(std::move(config));
  ASSERT_FALSE(api.ok());
  EXPECT_NE(api.error().find("/nonexistent/scrutin/web"), std::string::npos);
}

TEST_F(ApiTest, KeepAliveAcrossStatuses) {
  Start();
  TestClient c(port_);
  EXPECT_EQ(c.Request("POST", "/api/v1/vote", VoteBody())->result_int(), 202u);
  EXPECT_EQ(c.Request("POST", "/api/v1/vote", "{")->result_int(), 400u);
  EXPECT_EQ(c.Request("GET", "/api/v1/nope")->result_int(), 404u);
  EXPECT_EQ(c.Request("POST", "/api/v1/vote", VoteBody(), "text/plain")->result_int(), 415u);
  EXPECT_EQ(c.Request("POST", "/api/v1/vote", VoteBody(kNas, kCode, "L2025-003"))->result_int(),
            403u);
  EXPECT_EQ(c.Request("GET", "/api/v1/laws")->result_int(), 200u);
  EXPECT_EQ(server_->connections(), 1u);
}

TEST_F(ApiTest, GracefulStopAnswersTheVoteInFlight) {
  Start();
  intake_.set_mode(FakeIntake::Mode::kHold);
  TestClient c(port_);
  ASSERT_TRUE(
      c.Send("POST /api/v1/vote HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: " +
             std::to_string(VoteBody().size()) + "\r\n\r\n" + VoteBody()));
  ASSERT_TRUE(intake_.WaitHeld(1));
  std::thread stopper([&] { server_->Stop(5s); });
  std::this_thread::sleep_for(100ms);
  intake_.ReleaseAll();  // the intake makes the vote durable during the stop
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 202u);
  EXPECT_EQ(Header(*r, "Connection"), "close");
  c.WaitClosed(2s);
  stopper.join();
}

TEST_F(ApiTest, ConcurrentVotersAllGetAnAnswer) {
  credential_attempts_ = 0;  // 320 votes with one credential: a concurrency test, not a limit test
  Start();
  constexpr int kThreads = 8;
  constexpr int kVotes = 40;
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      TestClient c(port_);
      for (int i = 0; i < kVotes; ++i) {
        auto r = c.Request("POST", "/api/v1/vote", VoteBody());
        if (r && r->result_int() == 202) ++accepted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted.load(), kThreads * kVotes);
  EXPECT_EQ(intake_.count(), static_cast<std::size_t>(kThreads * kVotes));
  EXPECT_NE(Metrics().find("votes_submitted_total " + std::to_string(kThreads * kVotes) + "\n"),
            std::string::npos);
}

}  // namespace
}  // namespace scrutin::http

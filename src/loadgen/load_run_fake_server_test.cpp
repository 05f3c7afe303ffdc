// The load generator against a small in-process vote server speaking the API of docs/openapi.yaml
// over real loopback HTTP: pacing, the mix, the ground truth and the verification (including its
// ability to catch a server that miscounts), and several targets: replicas sharing one election,
// one of which is not listening, dies in the middle of the run or answers the results with a 5xx.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "core/ballot.hpp"
#include "core/mutex.hpp"
#include "core/vote_request.hpp"
#include "loadgen/load_run.hpp"
#include "loadgen/verification.hpp"
#include "loadgen/vote_requests.hpp"

namespace scrutin::loadgen {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr const char* kLaws[] = {"L2025-001", "L2025-002"};

struct ServerBehaviour {
  bool pending = false;           // 202 says pending; GET says pending twice, then final
  bool count_duplicates = false;  // bug: a duplicate also bumps the tally
  int lose_every = 0;             // bug: every n-th accepted vote is not tallied
  bool close_each = false;        // answer with Connection: close
  int stall_every = 0;            // every n-th vote is recorded but answered only after 1.5 s
  int unavailable_every = 0;      // every n-th vote is recorded (and counted) but answered 503
  int idle_close_ms = 0;          // close a keep-alive connection idle for that long
  // The server dies after answering that many votes (POST /api/v1/vote), as a killed process
  // would: it stops listening (connecting is refused from then on) and closes every connection;
  // a request read once the last vote was admitted gets no answer.
  int die_after = 0;
  int results_status = 0;  // answer GET /api/v1/results/{law} with this HTTP status instead
  std::chrono::milliseconds delay{0};
};

// The election behind one server, or shared by several replicas of the same service.
struct FakeElection {
  explicit FakeElection(std::set<std::string> reg) : registry(std::move(reg)) {
    std::string toml;
    for (const char* law : kLaws) {
      toml += fmt::format(
          "[[law]]\nid = \"{}\"\ntitle_fr = \"t\"\ntitle_en = \"t\"\nopens_at = "
          "\"2020-01-01T00:00:00Z\"\ncloses_at = \"2099-01-01T00:00:00Z\"\nresults = \"live\"\n",
          law);
    }
    ballot = *core::Ballot::Parse(toml);
  }

  const std::set<std::string> registry;
  core::Ballot ballot;
  mutable core::Mutex mu;
  std::set<std::string> voted GUARDED_BY(mu);
  std::map<std::string, std::pair<std::string, int>> statuses GUARDED_BY(mu);
  std::map<std::string, std::array<std::uint64_t, 2>> tallies GUARDED_BY(mu);
  std::uint64_t accepted GUARDED_BY(mu) = 0;
  std::uint64_t next_id GUARDED_BY(mu) = 1;
};

// An in-memory election behind a thread-per-connection Beast server. Several servers built on
// one FakeElection are replicas: a vote sent to either is seen by both.
class FakeVoteServer {
 public:
  FakeVoteServer(std::set<std::string> registry, ServerBehaviour b)
      : FakeVoteServer(std::make_shared<FakeElection>(std::move(registry)), b) {}
  FakeVoteServer(std::shared_ptr<FakeElection> election, ServerBehaviour b)
      : election_(std::move(election)),
        b_(b),
        acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}),
        endpoint_(acceptor_.local_endpoint()) {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeVoteServer() {
    // A blocking accept() is not interrupted by close(): wake it with one last connection (it
    // has already returned if the server died).
    stopping_ = true;
    boost::system::error_code ec;
    {
      asio::io_context ioc;
      tcp::socket wake(ioc);
      wake.connect(endpoint_, ec);
      accept_thread_.join();
    }
    acceptor_.close(ec);
    {
      core::MutexLock lock(mu_);
      for (auto* s : sockets_) s->shutdown(tcp::socket::shutdown_both, ec);
    }
    for (auto& t : sessions_) t.join();
  }

  std::string url() const { return fmt::format("http://127.0.0.1:{}", endpoint_.port()); }
  const std::shared_ptr<FakeElection>& election() const { return election_; }
  // Votes accepted by the election (over all its replicas).
  std::uint64_t accepted() const {
    core::MutexLock lock(election_->mu);
    return election_->accepted;
  }
  // Vote requests (POST /api/v1/vote, any body) this server answered or began to handle.
  std::uint64_t votes() const {
    core::MutexLock lock(mu_);
    return votes_;
  }
  bool dead() const {
    core::MutexLock lock(mu_);
    return dead_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      core::MutexLock lock(mu_);
      sessions_.emplace_back([this, s = std::move(socket)]() mutable { Session(s); });
    }
  }

  void Session(tcp::socket& socket) {
    {
      core::MutexLock lock(mu_);
      if (dead_) {  // accepted just before the server died
        boost::system::error_code ec;
        socket.close(ec);
        return;
      }
      sockets_.insert(&socket);
    }
    boost::beast::flat_buffer buffer;
    while (true) {
      if (b_.idle_close_ms > 0 && buffer.size() == 0) {
        pollfd p{socket.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, b_.idle_close_ms) == 0) break;  // idle too long: close
      }
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) break;
      const bool vote = req.method() == http::verb::post && req.target() == "/api/v1/vote";
      bool last = false;  // this vote is the last one before dying
      {
        core::MutexLock lock(mu_);
        if (dead_) break;
        if (vote) {
          if (b_.die_after > 0 && votes_ >= static_cast<std::uint64_t>(b_.die_after)) break;
          ++votes_;
          last = b_.die_after > 0 && votes_ == static_cast<std::uint64_t>(b_.die_after);
        }
      }
      if (b_.delay.count() > 0) std::this_thread::sleep_for(b_.delay);
      bool stall = false;
      http::response<http::string_body> res = Handle(req, stall);
      if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.version(11);
      res.set(http::field::content_type, "application/json");
      res.keep_alive(!b_.close_each && req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (last) Die();
      if (ec || !res.keep_alive()) break;
    }
    core::MutexLock lock(mu_);
    sockets_.erase(&socket);
    boost::system::error_code ec;
    socket.close(ec);
  }

  // As a killed process: nothing listens any more, every connection is closed.
  void Die() {
    core::MutexLock lock(mu_);
    dead_ = true;
    // Linux: shutdown(2) on a listening socket stops listening (connecting is refused) and makes
    // the blocked accept() return EINVAL, which ends the accept loop.
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    boost::system::error_code ec;
    for (auto* s : sockets_) s->shutdown(tcp::socket::shutdown_both, ec);
  }

  http::response<http::string_body> Reply(http::status status, std::string body) {
    http::response<http::string_body> res{status, 11};
    res.body() = std::move(body);
    return res;
  }

  http::response<http::string_body> Handle(const http::request<http::string_body>& req,
                                           bool& stall) {
    const std::string target(req.target());
    FakeElection& e = *election_;
    core::MutexLock lock(e.mu);
    if (req.method() == http::verb::post && target == "/api/v1/vote") {
      auto vote = core::ParseVoteRequest(req.body(), e.ballot);
      if (!vote.ok()) return Reply(http::status::bad_request, R"({"error":"invalid_request"})");
      const std::string key = vote->nas + "|" + vote->code + "|" + vote->law_id;
      std::string status;
      if (!e.registry.count(key)) {
        status = "invalid";
      } else if (!e.voted.insert(key).second) {
        status = "duplicate";
        if (b_.count_duplicates) Bump(e, vote->law_id, vote->choice);
      } else {
        status = "accepted";
        ++e.accepted;
        if (b_.lose_every == 0 || e.accepted % b_.lose_every != 0) {
          Bump(e, vote->law_id, vote->choice);
        }
      }
      const std::string id = fmt::format("{:08x}-0000-4000-8000-{:012x}", e.next_id, e.next_id);
      ++e.next_id;
      e.statuses[id] = {status, 0};
      stall = b_.stall_every > 0 && e.next_id % b_.stall_every == 0;
      if (b_.unavailable_every > 0 && e.next_id % b_.unavailable_every == 0) {
        // As an api whose broker stored the vote and died before confirming it.
        return Reply(http::status::service_unavailable, R"({"error":"unavailable"})");
      }
      return Reply(
          http::status::accepted,
          fmt::format(R"({{"request_id":"{}","status":"{}","status_url":"/api/v1/vote/{}"}})", id,
                      b_.pending ? "pending" : status, id));
    }
    if (req.method() == http::verb::get && target.rfind("/api/v1/vote/", 0) == 0) {
      auto it = e.statuses.find(target.substr(13));
      if (it == e.statuses.end()) {
        return Reply(http::status::not_found, R"({"error":"not_found"})");
      }
      const bool still_pending = b_.pending && it->second.second++ < 2;
      return Reply(http::status::ok,
                   fmt::format(R"({{"request_id":"{}","status":"{}"}})", it->first,
                               still_pending ? "pending" : it->second.first));
    }
    if (req.method() == http::verb::get && target.rfind("/api/v1/results/", 0) == 0) {
      const std::string law = target.substr(16);
      if (b_.results_status != 0) {
        return Reply(static_cast<http::status>(b_.results_status), R"({"error":"unavailable"})");
      }
      if (!e.ballot.Find(law)) return Reply(http::status::not_found, R"({"error":"unknown_law"})");
      const auto& t = e.tallies[law];
      return Reply(http::status::ok,
                   fmt::format(R"({{"law_id":"{}","oui":{},"non":{},"total":{},"final":false}})",
                               law, t[0], t[1], t[0] + t[1]));
    }
    return Reply(http::status::not_found, R"({"error":"not_found"})");
  }

  static void Bump(FakeElection& e, const std::string& law, core::Choice c) REQUIRES(e.mu) {
    ++e.tallies[law][static_cast<int>(c)];
  }

  std::shared_ptr<FakeElection> election_;
  ServerBehaviour b_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  const tcp::endpoint endpoint_;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  mutable core::Mutex mu_;
  std::vector<std::thread> sessions_ GUARDED_BY(mu_);
  std::set<tcp::socket*> sockets_ GUARDED_BY(mu_);
  std::uint64_t votes_ GUARDED_BY(mu_) = 0;
  bool dead_ GUARDED_BY(mu_) = false;
};

// A registry of `voters` voters x both laws, written to a temporary CSV.
class Registry {
 public:
  explicit Registry(int voters) {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("scrutin_loadgen_test_{}_{}.csv", ::getpid(), counter_++);
    std::ofstream out(path_);
    out << "nas,code,law_id\n";
    std::mt19937_64 rng(99);
    std::set<std::uint32_t> seen;
    for (int i = 0; i < voters; ++i) {
      std::uint32_t nas;
      do nas = RandomLuhnNas(rng);
      while (!seen.insert(nas).second);
      std::array<char, 9> n;
      FormatNas(nas, n);
      std::array<char, 6> c;
      RandomCode(rng, c);
      const std::string ns(n.data(), 9), cs(c.data(), 6);
      for (const char* law : kLaws) {
        out << ns << ',' << cs << ',' << law << '\n';
        keys_.insert(ns + "|" + cs + "|" + law);
      }
    }
  }
  ~Registry() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }
  const std::set<std::string>& keys() const { return keys_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
  std::set<std::string> keys_;
};

LoadOptions Options(const FakeVoteServer& server, const Registry& registry) {
  LoadOptions o;
  o.targets = {server.url()};
  o.voters = registry.path();
  o.connections = 8;
  o.threads = 2;
  o.mix = *Mix::Parse("valid=0.8,duplicate=0.1,invalid=0.05,malformed=0.05");
  o.timeout = std::chrono::milliseconds(5000);
  o.verify_timeout = std::chrono::seconds(20);
  return o;
}

std::uint64_t Sum(const std::array<std::uint64_t, kRequestKinds>& a) {
  std::uint64_t s = 0;
  for (auto v : a) s += v;
  return s;
}

TEST(LoadRunFakeServer, ClosedLoopRunVerifiesAgainstAnHonestServer) {
  Registry registry(1500);
  FakeVoteServer server(registry.keys(), {});
  LoadOptions o = Options(server, registry);
  o.votes = 2000;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_TRUE(report->verify_ok) << report->ToText();
  EXPECT_EQ(report->totals.sent, 2000u);
  EXPECT_EQ(report->totals.answered, 2000u);
  EXPECT_EQ(Sum(report->sent_by_kind), 2000u);
  EXPECT_GT(report->sent_by_kind[1], 100u);  // duplicates were sent
  EXPECT_GT(report->sent_by_kind[2], 40u);
  EXPECT_GT(report->sent_by_kind[3], 40u);
  EXPECT_EQ(report->totals.by_status[400], report->sent_by_kind[3]);
  EXPECT_EQ(report->totals.by_status[202], 2000u - report->sent_by_kind[3]);
  EXPECT_EQ(report->status_in_202[1], report->sent_by_kind[0]);  // every valid accepted
  EXPECT_EQ(report->status_in_202[2], report->sent_by_kind[1]);
  EXPECT_EQ(report->status_in_202[3], report->sent_by_kind[2]);
  std::uint64_t truth = 0;
  for (const auto& l : report->ground_truth) truth += l.oui + l.non;
  EXPECT_EQ(truth, server.accepted());
  EXPECT_EQ(report->lat_count, 2000u);
  EXPECT_GT(report->p50, 0u);
  EXPECT_LE(report->p50, report->p99);
  EXPECT_LE(report->p99, report->lat_max);
  const auto json = report->ToJson();
  EXPECT_EQ(json["verify"]["ok"], true);
  EXPECT_EQ(json["http_status"]["400"], report->sent_by_kind[3]);
}

TEST(LoadRunFakeServer, PendingStatusesArePolledUntilFinal) {
  Registry registry(600);
  FakeVoteServer server(registry.keys(), {.pending = true});
  LoadOptions o = Options(server, registry);
  o.votes = 800;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_TRUE(report->verify_ok) << report->ToText();
  EXPECT_EQ(report->status_in_202[0], 800u - report->sent_by_kind[3]);
  // Each pending request is polled until its third GET says final.
  EXPECT_GE(report->polls, 3 * report->status_in_202[0]);
  EXPECT_EQ(report->final_status[1], report->sent_by_kind[0]);
}

TEST(LoadRunFakeServer, CatchesAServerThatCountsDuplicates) {
  Registry registry(600);
  FakeVoteServer server(registry.keys(), {.count_duplicates = true});
  LoadOptions o = Options(server, registry);
  o.votes = 800;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_FALSE(report->verify_ok);
  EXPECT_NE(report->ToText().find("tally moved by"), std::string::npos) << report->ToText();
}

TEST(LoadRunFakeServer, CatchesAServerThatLosesVotes) {
  Registry registry(600);
  FakeVoteServer server(registry.keys(), {.lose_every = 50});
  LoadOptions o = Options(server, registry);
  o.votes = 800;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_FALSE(report->verify_ok);
}

TEST(LoadRunFakeServer, ASecondRunNeedsFreshCredentials) {
  Registry registry(1000);
  FakeVoteServer server(registry.keys(), {});
  LoadOptions o = Options(server, registry);
  o.votes = 600;
  o.verify = true;
  auto first = RunLoad(o);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(first->verify_ok) << first->ToText();
  // Continuing after the rows the first run used: the server is not empty, the check still holds.
  o.registry_offset = first->registry_next;
  auto second = RunLoad(o);
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_TRUE(second->verify_ok) << second->ToText();
  EXPECT_FALSE(second->tally_before.empty());
  // Re-using the first run's rows: those votes come back duplicate, and verification says so.
  o.registry_offset = 0;
  auto again = RunLoad(o);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_FALSE(again->verify_ok);
  EXPECT_NE(again->ToText().find("--registry-offset"), std::string::npos) << again->ToText();
}

TEST(LoadRunFakeServer, ConnectionCloseIsFollowedByReconnects) {
  Registry registry(300);
  FakeVoteServer server(registry.keys(), {.close_each = true});
  LoadOptions o = Options(server, registry);
  o.votes = 300;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_TRUE(report->verify_ok) << report->ToText();
  EXPECT_EQ(report->totals.answered, 300u);
  EXPECT_GE(report->totals.reconnects, 280u);
}

TEST(LoadRunFakeServer, TimedOutVotesAreCountedAsUnknownOutcomes) {
  // Some votes are recorded but answered after the client's timeout: the client cannot know
  // their outcome, so verification accepts the tallies with or without them, and nothing else.
  Registry registry(600);
  FakeVoteServer server(registry.keys(), {.stall_every = 40});
  LoadOptions o = Options(server, registry);
  o.votes = 400;
  o.verify = true;
  o.timeout = std::chrono::milliseconds(300);
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_GE(report->totals.timeouts, 5u) << report->ToText();
  EXPECT_EQ(report->totals.answered + report->totals.timeouts, 400u);
  EXPECT_TRUE(report->verify_ok) << report->ToText();
  // The timed-out valid votes were recorded by the server but are not in the ground truth.
  std::uint64_t truth = 0;
  for (const auto& l : report->ground_truth) truth += l.oui + l.non;
  EXPECT_LT(truth, server.accepted());
}

TEST(LoadRunFakeServer, VotesAnswered5xxAreUnknownOutcomesNotLosses) {
  // An api whose broker stored a vote and died before confirming it answers 503 for a vote
  // that counts: verification must accept the tallies with or without such votes.
  Registry registry(600);
  FakeVoteServer server(registry.keys(), {.unavailable_every = 25});
  LoadOptions o = Options(server, registry);
  o.votes = 400;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_GE(report->totals.by_status[503], 10u) << report->ToText();
  EXPECT_TRUE(report->verify_ok) << report->ToText();
  std::uint64_t truth = 0;
  for (const auto& l : report->ground_truth) truth += l.oui + l.non;
  EXPECT_LT(truth, server.accepted());  // the 503'd valid votes counted, outside the truth
}

TEST(LoadRunFakeServer, ConnectionsTheServerClosedWhileIdleAreNotUsed) {
  // At 1.5 requests/s each connection sits idle ~0.67 s, and the server drops idle ones after
  // 0.3 s: every reuse would fail unless the client notices the close first.
  Registry registry(50);
  FakeVoteServer server(registry.keys(), {.idle_close_ms = 300});
  LoadOptions o = Options(server, registry);
  o.connections = 2;
  o.threads = 1;
  o.rate = 1.5;
  o.duration_s = 2.5;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->totals.answered, 4u) << report->ToText();
  EXPECT_EQ(report->totals.io_errors, 0u);
  EXPECT_GE(report->totals.reconnects, 2u);
}

TEST(LoadRunFakeServer, OpenLoopKeepsTheRate) {
  Registry registry(2000);
  FakeVoteServer server(registry.keys(), {});
  LoadOptions o = Options(server, registry);
  o.rate = 1000;
  o.duration_s = 1.0;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  // Every one of the 1000 scheduled requests is accounted for: sent, or reported unsent when all
  // connections were still busy at the end (a stalled machine can leave a few in the backlog; that
  // is what `unsent` reports, so the test does not require the machine to keep up).
  EXPECT_EQ(report->totals.sent + report->totals.unsent, 1000u) << report->ToText();
  EXPECT_GT(report->totals.sent, 0u);
  EXPECT_EQ(report->totals.answered, report->totals.sent);
  // Paced, not as fast as possible: the last of 1000 requests at 1000/s is scheduled 0.999 s in.
  // No tight upper bound: on a loaded machine the answers may come late (that is the latency the
  // open loop reports, not a pacing error); 5 s only catches a run that does not end.
  EXPECT_GE(report->elapsed_s, 0.99);
  EXPECT_LT(report->elapsed_s, 5.0);
}

TEST(LoadRunFakeServer, OpenLoopLatencyIncludesWaitingForASlowServer) {
  // One connection to a server that takes 20 ms per request can do 50/s; asked for 200/s, the
  // requests queue and their latency, measured from the scheduled time, grows far past 20 ms.
  Registry registry(300);
  FakeVoteServer server(registry.keys(), {.delay = std::chrono::milliseconds(20)});
  LoadOptions o = Options(server, registry);
  o.connections = 1;
  o.threads = 1;
  o.rate = 200;
  o.duration_s = 1.0;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_LT(report->totals.answered, 80u) << report->ToText();
  EXPECT_GT(report->totals.unsent, 100u);
  EXPECT_GT(report->p99, 500'000u) << report->ToText();  // > 0.5 s
  EXPECT_GE(report->p50, 200'000u);
}

TEST(LoadRunFakeServer, UnreachableTargetIsAClearError) {
  Registry registry(10);
  // A port that was free a moment ago.
  std::uint16_t port;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  LoadOptions o;
  o.targets = {fmt::format("http://127.0.0.1:{}", port)};
  o.voters = registry.path();
  o.votes = 10;
  o.connections = 2;
  o.timeout = std::chrono::milliseconds(1000);
  auto report = RunLoad(o);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().find("cannot connect"), std::string::npos) << report.error();
}

// --- several targets ---------------------------------------------------------------------------

std::uint64_t Lost(const LoadReport& r) { return r.totals.io_errors + r.totals.timeouts; }

TEST(LoadRunFakeServer, TwoTargetsShareTheLoadAndTheRunVerifies) {
  Registry registry(1500);
  FakeVoteServer a(registry.keys(), {});
  FakeVoteServer b(a.election(), {});  // a replica: the same election
  LoadOptions o = Options(a, registry);
  o.targets = {a.url(), b.url()};
  o.votes = 2000;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_TRUE(report->verify_ok) << report->ToText();
  EXPECT_EQ(report->totals.sent, 2000u);
  EXPECT_EQ(report->totals.answered, 2000u);
  // Every connection got a request at the start (closed loop), half of them to each target.
  EXPECT_GT(a.votes(), 0u);
  EXPECT_GT(b.votes(), 0u);
  EXPECT_EQ(a.votes() + b.votes(), 2000u);
  EXPECT_EQ(report->totals.connect_errors, 0u);
  const std::string both = a.url() + "," + b.url();
  EXPECT_EQ(report->target, both);
  EXPECT_NE(report->ToText().find(both), std::string::npos) << report->ToText();
  const auto json = report->ToJson();
  EXPECT_EQ(json["target"], both);
  EXPECT_EQ(json["targets"], nlohmann::json::array({a.url(), b.url()}));
}

TEST(LoadRunFakeServer, ATargetThatIsNotListeningGetsNothingAndCostsNothing) {
  // The first target's port is bound but not listening for the whole test: every connection to
  // it is refused. The run (open loop, as the chaos test drives it) goes through the second one,
  // and so does the verification (results and status polls), after the first refuses.
  Registry registry(600);
  FakeVoteServer live(registry.keys(), {.pending = true});
  asio::io_context ioc;
  tcp::acceptor closed(ioc);
  closed.open(tcp::v4());
  closed.bind({asio::ip::make_address("127.0.0.1"), 0});
  const std::string closed_url = fmt::format("http://127.0.0.1:{}", closed.local_endpoint().port());
  LoadOptions o = Options(live, registry);
  o.targets = {closed_url, live.url()};
  o.rate = 1000;
  o.votes = 500;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_TRUE(report->verify_ok) << report->ToText();
  EXPECT_EQ(report->totals.sent, 500u);
  EXPECT_EQ(report->totals.answered, 500u) << report->ToText();
  EXPECT_EQ(Lost(*report), 0u);
  EXPECT_EQ(report->totals.unsent, 0u);
  EXPECT_EQ(live.votes(), 500u);
  EXPECT_GT(report->totals.connect_errors, 0u);
  // Polled through the live target: every pending vote reached its final status.
  EXPECT_EQ(report->status_in_202[0], 500u - report->sent_by_kind[3]);
  EXPECT_EQ(report->final_status[1], report->sent_by_kind[0]);
}

TEST(LoadRunFakeServer, ATargetThatDiesInTheMiddleOfTheRunLeavesTheOtherToCarryTheLoad) {
  // The first target dies (stops listening, drops its connections) after 150 votes: the requests
  // it had in flight get no answer, its connections are refused from then on, and the run goes on
  // through the second target until every request was sent. The verification reads the results
  // from the second one, and the votes without an answer are allowed either way.
  Registry registry(1500);
  FakeVoteServer dying(registry.keys(), {.die_after = 150});
  FakeVoteServer live(dying.election(), {});
  LoadOptions o = Options(dying, registry);
  o.targets = {dying.url(), live.url()};
  o.votes = 1500;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_TRUE(dying.dead());
  EXPECT_EQ(dying.votes(), 150u);
  EXPECT_EQ(report->totals.sent, 1500u);
  EXPECT_EQ(report->totals.answered + Lost(*report), report->totals.sent) << report->ToText();
  // Whatever the dying target did not answer (it answered at most 150), the live one did, all
  // but the requests lost.
  EXPECT_GE(live.votes(), 1500u - 150u - Lost(*report)) << report->ToText();
  EXPECT_GT(report->totals.connect_errors, 0u);  // reconnecting to the dead target was refused
  EXPECT_TRUE(report->verify_ok) << report->ToText();
}

TEST(LoadRunFakeServer, ResultsAnswered5xxByTheFirstTargetAreReadFromTheNext) {
  Registry registry(300);
  FakeVoteServer first(registry.keys(), {.results_status = 503});
  FakeVoteServer second(first.election(), {});
  LoadOptions o = Options(first, registry);
  o.targets = {first.url(), second.url()};
  o.votes = 300;
  o.verify = true;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_TRUE(report->verify_ok) << report->ToText();
  EXPECT_GT(first.votes(), 0u);
  // Alone, the first target's 503 is the verification's error.
  o.targets = {first.url()};
  o.registry_offset = report->registry_next;
  auto alone = RunLoad(o);
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.error().find("HTTP 503"), std::string::npos) << alone.error();
}

TEST(LoadRunFakeServer, NoTargetReachableNamesThemAll) {
  Registry registry(10);
  asio::io_context ioc;
  std::vector<tcp::acceptor> closed;
  std::vector<std::string> urls;
  for (int i = 0; i < 2; ++i) {
    closed.emplace_back(ioc);
    closed.back().open(tcp::v4());
    closed.back().bind({asio::ip::make_address("127.0.0.1"), 0});
    urls.push_back(fmt::format("http://127.0.0.1:{}", closed.back().local_endpoint().port()));
  }
  LoadOptions o;
  o.targets = urls;
  o.voters = registry.path();
  o.votes = 10;
  o.connections = 4;
  o.timeout = std::chrono::milliseconds(1000);
  auto report = RunLoad(o);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().find("cannot connect"), std::string::npos) << report.error();
  for (const auto& url : urls) {
    EXPECT_NE(report.error().find(url.substr(7)), std::string::npos) << report.error();
  }
}

TEST(LoadRunFakeServer, TooFewCredentialsIsRefusedUpFront) {
  Registry registry(10);
  FakeVoteServer server(registry.keys(), {});
  LoadOptions o = Options(server, registry);
  o.votes = 1000;
  auto report = RunLoad(o);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().find("registry rows"), std::string::npos) << report.error();
}

TEST(LoadRunFakeServer, RunningOutOfVotersIsAnErrorNamingTheRegistryAndOffset) {
  // 100 voters x 2 laws = 200 rows; from offset 50, a closed loop of valid votes for 30 s runs
  // dry after 150 of them, long before its time is up.
  Registry registry(100);
  FakeVoteServer server(registry.keys(), {});
  LoadOptions o = Options(server, registry);
  o.mix = *Mix::Parse("valid=1");
  o.duration_s = 30.0;
  o.registry_offset = 50;
  auto report = RunLoad(o);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().find("ran out of voters"), std::string::npos) << report.error();
  EXPECT_NE(report.error().find("has 200 rows"), std::string::npos) << report.error();
  EXPECT_NE(report.error().find("--registry-offset 50"), std::string::npos) << report.error();
  EXPECT_NE(report.error().find("150 unused rows"), std::string::npos) << report.error();
}

TEST(LoadRunFakeServer, AnOffsetAtTheEndOfTheRegistryIsRefusedBeforeSendingAnything) {
  Registry registry(100);
  FakeVoteServer server(registry.keys(), {});
  LoadOptions o = Options(server, registry);
  o.rate = 1000;
  o.duration_s = 1.0;
  for (std::uint64_t offset : {200u, 5000u}) {
    o.registry_offset = offset;
    auto report = RunLoad(o);
    ASSERT_FALSE(report.ok());
    EXPECT_NE(report.error().find("no voter left"), std::string::npos) << report.error();
    EXPECT_NE(report.error().find("has 200 rows"), std::string::npos) << report.error();
    EXPECT_NE(report.error().find("--registry-offset " + std::to_string(offset)), std::string::npos)
        << report.error();
  }
}

TEST(LoadRunFakeServer, AMixWithoutValidVotesNeedsNoUnusedRows) {
  // Invalid and malformed requests use no registry row: an offset past the end is no error.
  Registry registry(50);
  FakeVoteServer server(registry.keys(), {});
  LoadOptions o = Options(server, registry);
  o.mix = *Mix::Parse("invalid=0.5,malformed=0.5");
  o.votes = 40;
  o.registry_offset = 100;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.error();
  EXPECT_EQ(report->totals.sent, 40u);
  EXPECT_FALSE(report->registry_exhausted);
}

}  // namespace
TEST(LoadRunFakeServer, ReadingTalliesFromAServerThatNeverAnswersTimesOut) {
  // A listening socket nobody accepts on: the kernel completes the handshake, nothing answers
  // (as a hung api, or one whose packets vanish). The verification's GET must give up after its
  // timeout instead of blocking the run for ever.
  asio::io_context ioc;
  tcp::acceptor silent(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto target = ParseTarget(fmt::format("http://127.0.0.1:{}", silent.local_endpoint().port()));
  ASSERT_TRUE(target.ok()) << target.error();
  const auto t0 = std::chrono::steady_clock::now();
  auto got = ReadTallies({*target}, {kLaws[0]}, std::chrono::milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), core::ErrorCode::kUnavailable) << got.error();
  // Generous: the point is "returns", not how fast (shared machines are slow).
  EXPECT_LT(took, std::chrono::seconds(20)) << got.error();
}

}  // namespace scrutin::loadgen

#include "loadgen/verification.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/vote.hpp"
#include "loadgen/tls_client.hpp"
#include "loadgen/vote_requests.hpp"

namespace scrutin::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A blocking GET for the few requests outside the load (results before and after), with the
// given Host header, bounded by `timeout` as a whole (connect, write and read: a hung server, or
// one whose packets vanish, is an error after that long, not a hang). Every failure is a network
// error: ErrorCode::kUnavailable. The operations are asynchronous only because Beast's tcp_stream
// applies its expiry to asynchronous operations alone.
core::Result<std::pair<int, std::string>> HttpGet(const Target& target,
                                                  const std::string& host_header,
                                                  const std::string& path,
                                                  std::chrono::milliseconds timeout) {
  using core::ErrorCode;
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  boost::system::error_code ec;
  const auto results = resolver.resolve(target.host, std::to_string(target.port), ec);
  if (ec) {
    return core::Fail(ErrorCode::kUnavailable,
                      fmt::format("GET {}: cannot resolve: {}", path, ec.message()));
  }
  auto run = [&ioc] {
    ioc.restart();
    ioc.run();
  };
  stream.expires_after(timeout);
  stream.async_connect(results,
                       [&ec](const boost::system::error_code& e, const tcp::endpoint&) { ec = e; });
  run();
  if (ec) {
    return core::Fail(ErrorCode::kUnavailable,
                      fmt::format("GET {}: cannot connect: {}", path, ec.message()));
  }
  auto exchange = [&](auto& s) -> core::Result<std::pair<int, std::string>> {
    http::request<http::empty_body> req{http::verb::get, path, 11};
    req.set(http::field::host, host_header);
    http::async_write(s, req, [&ec](const boost::system::error_code& e, std::size_t) { ec = e; });
    run();
    if (ec) {
      return core::Fail(ErrorCode::kUnavailable, fmt::format("GET {}: {}", path, ec.message()));
    }
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::async_read(s, buffer, res,
                     [&ec](const boost::system::error_code& e, std::size_t) { ec = e; });
    run();
    if (ec) {
      return core::Fail(ErrorCode::kUnavailable, fmt::format("GET {}: {}", path, ec.message()));
    }
    return std::pair<int, std::string>{res.result_int(), std::move(res.body())};
  };
  if (!target.https) {
    auto got = exchange(stream);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return got;
  }
  if (!target.tls) {
    return core::Fail(ErrorCode::kRefused,
                      fmt::format("GET {}: https target without a TLS context", path));
  }
  asio::ssl::stream<beast::tcp_stream> tls(std::move(stream), *target.tls);
  if (auto ready = PrepareClientStream(tls, target.host); !ready.ok()) {
    return core::Fail(ErrorCode::kRefused, fmt::format("GET {}: {}", path, ready.error()));
  }
  tls.async_handshake(asio::ssl::stream_base::client,
                      [&ec](const boost::system::error_code& e) { ec = e; });
  run();
  if (ec) {
    return core::Fail(ErrorCode::kUnavailable,
                      fmt::format("GET {}: TLS handshake failed: {}", path,
                                  HandshakeErrorText(ec, tls.native_handle())));
  }
  auto got = exchange(tls);
  tls.next_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
  return got;
}

// Polls GET /api/v1/vote/{id} for one thread's share of the pending requests.
class PollWorkload final : public Workload {
 public:
  enum Outcome : std::uint8_t { kStillPending, kFinal, kNotFound };
  struct PollResult {
    std::uint32_t index;
    Outcome outcome;
    core::VoteStatus status;
  };

  PollWorkload(const std::vector<std::uint32_t>& todo, const std::vector<Pending>& all,
               const Target& target, unsigned thread, unsigned threads)
      : todo_(todo), all_(all), target_(target), next_(thread), step_(threads) {
    path_.reserve(64);
  }

  bool Prepare(RequestSlot& slot) override {
    if (next_ >= todo_.size()) return false;
    const std::uint32_t index = todo_[next_];
    next_ += step_;
    const Pending& p = all_[index];
    path_.assign("/api/v1/vote/");
    path_.append(p.id.data(), p.id.size());
    AssembleGet(slot.bytes, path_, target_.host_header);
    slot.tag = index;
    return true;
  }
  void OnResponse(const RequestSlot& slot, int status, std::string_view body) override {
    const auto index = static_cast<std::uint32_t>(slot.tag);
    if (status == 404) {
      results.push_back({index, kNotFound, core::VoteStatus::kPending});
      return;
    }
    std::optional<core::VoteStatus> st;
    if (status == 200) {
      if (auto word = FindJsonString(body, "status")) st = core::ParseVoteStatus(*word);
    }
    if (!st || *st == core::VoteStatus::kPending) {
      results.push_back({index, kStillPending, core::VoteStatus::kPending});
    } else {
      results.push_back({index, kFinal, *st});
    }
  }
  void OnFailure(const RequestSlot& slot, Failure) override {
    results.push_back(
        {static_cast<std::uint32_t>(slot.tag), kStillPending, core::VoteStatus::kPending});
  }

  std::vector<PollResult> results;

 private:
  const std::vector<std::uint32_t>& todo_;
  const std::vector<Pending>& all_;
  const Target& target_;
  std::string path_;
  std::size_t next_;
  std::size_t step_;
};

// Every law's tally from one target. A network error or a 5xx is ErrorCode::kUnavailable (the
// caller tries the next target); any other answer that is not a tally is kRefused or kCorrupt.
core::Result<std::vector<LawCount>> ReadTalliesFrom(const Target& target,
                                                    const std::string& host_header,
                                                    const std::vector<std::string>& laws,
                                                    std::chrono::milliseconds timeout) {
  using core::ErrorCode;
  std::vector<LawCount> out;
  for (const auto& law : laws) {
    auto got = HttpGet(target, host_header, "/api/v1/results/" + law, timeout);
    if (!got.ok()) return core::Fail(got.code(), got.error());
    const auto& [status, body] = *got;
    if (status == 404) {
      return core::Fail(ErrorCode::kRefused,
                        fmt::format("law {} of the registry is not on the server's ballot", law));
    }
    if (status == 403) {
      return core::Fail(ErrorCode::kRefused,
                        fmt::format("results of law {} are embargoed: cannot verify", law));
    }
    if (status != 200) {
      // A 5xx: this replica cannot answer now (like one that is down); a 4xx: a refusal.
      return core::Fail(status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kRefused,
                        fmt::format("GET /api/v1/results/{}: HTTP {}", law, status));
    }
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains("oui") ||
        !json.contains("non") || !json["oui"].is_number_unsigned() ||
        !json["non"].is_number_unsigned()) {
      return core::Fail(ErrorCode::kCorrupt,
                        fmt::format("GET /api/v1/results/{}: unreadable body", law));
    }
    std::uint64_t uncounted = 0;
    if (json.contains("uncounted") && json["uncounted"].is_number_unsigned()) {
      uncounted = json["uncounted"].get<std::uint64_t>();
    }
    out.push_back(
        {law, json["oui"].get<std::uint64_t>(), json["non"].get<std::uint64_t>(), uncounted});
  }
  return out;
}

// "host:port" of a target, for messages.
std::string Name(const Target& target) { return fmt::format("{}:{}", target.host, target.port); }

}  // namespace

core::Result<std::vector<LawCount>> ReadTallies(const std::vector<Target>& targets,
                                                const std::vector<std::string>& laws,
                                                std::chrono::milliseconds timeout) {
  if (targets.empty()) return core::Fail(std::string("no target to read the results from"));
  std::string errors;
  for (const Target& target : targets) {
    auto got = ReadTalliesFrom(target, targets.front().host_header, laws, timeout);
    if (got.ok() || got.code() != core::ErrorCode::kUnavailable) return got;
    if (!errors.empty()) errors += "; ";
    errors += targets.size() == 1 ? got.error() : fmt::format("{}: {}", Name(target), got.error());
  }
  return core::Fail(core::ErrorCode::kUnavailable, errors);
}

void Verify(const LoadOptions& options, VoteRun& run, const std::vector<Pending>& pending,
            LoadReport& report) {
  report.verified = true;
  Mismatches mm(report.mismatches);
  auto& pool = run.electorate.pool;
  const auto& laws = run.electorate.laws;

  // 1. Wait for every pending request to reach a final status.
  std::vector<std::uint32_t> todo(pending.size());
  for (std::uint32_t i = 0; i < todo.size(); ++i) todo[i] = i;
  std::vector<core::VoteStatus> final_of(pending.size(), core::VoteStatus::kPending);
  std::uint64_t not_found = 0;
  const auto deadline = SteadyClock::now() + options.verify_timeout;
  while (!todo.empty()) {
    // Each round polls through the first target that accepts a connection, in order.
    EngineOptions eo;
    eo.threads = std::min<unsigned>(options.threads, static_cast<unsigned>(todo.size()));
    eo.connections = std::clamp<unsigned>(
        static_cast<unsigned>(std::min<std::size_t>(todo.size(), options.connections)), eo.threads,
        256);
    eo.timeout = options.timeout;
    const unsigned threads = eo.threads;
    std::unique_ptr<Engine> engine;
    std::string errors;
    for (const Target& target : run.targets) {
      eo.targets = {target};
      auto e = std::make_unique<Engine>(eo, [&](unsigned t) {
        return std::make_unique<PollWorkload>(todo, pending, run.targets.front(), t, threads);
      });
      if (auto st = e->Start(); !st.ok()) {
        if (!errors.empty()) errors += "; ";
        errors += st.error();
        continue;
      }
      engine = std::move(e);
      break;
    }
    if (engine == nullptr) {
      mm.Add("cannot poll vote statuses: {}", errors);
      break;
    }
    while (!engine->WaitFor(std::chrono::milliseconds(200))) {
    }
    report.polls += engine->Totals().sent;
    std::vector<std::uint32_t> again;
    for (unsigned t = 0; t < threads; ++t) {
      for (const auto& r : static_cast<PollWorkload&>(engine->workload(t)).results) {
        switch (r.outcome) {
          case PollWorkload::kFinal:
            final_of[r.index] = r.status;
            break;
          case PollWorkload::kNotFound:
            ++not_found;
            break;
          case PollWorkload::kStillPending:
            again.push_back(r.index);
            break;
        }
      }
    }
    todo = std::move(again);
    if (todo.empty() || SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  mm.AddCount(not_found, "requests answered 202 are unknown to GET /api/v1/vote/{id} (404)");
  mm.AddCount(todo.size(),
              fmt::format("requests still pending after {} s", options.verify_timeout.count()));

  // 2. Fold the final statuses into the credentials.
  std::uint64_t invalid_wrong = 0;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const core::VoteStatus st = final_of[i];
    if (st == core::VoteStatus::kPending) continue;
    ++report.final_status[static_cast<std::size_t>(st)];
    const auto kind = static_cast<RequestKind>(pending[i].kind);
    if (kind == RequestKind::kInvalid) {
      if (st != core::VoteStatus::kInvalid) ++invalid_wrong;
    } else if (st == core::VoteStatus::kAccepted) {
      PoolEntry& e = pool[pending[i].cred];
      if (e.accepted < 255) ++e.accepted;
    }
  }
  // Statuses that were final in the 202 count as final too.
  for (std::size_t s = 0; s < 4; ++s) {
    if (s != static_cast<std::size_t>(core::VoteStatus::kPending)) {
      report.final_status[s] += report.status_in_202[s];
    }
  }

  // 3. Per credential: one accepted vote for each credential whose vote got a 202.
  std::vector<std::array<std::uint64_t, 2>> expected(laws.size()), maybe(laws.size());
  std::uint64_t never_accepted = 0, accepted_twice = 0, accepted_total = 0;
  const std::uint64_t used = std::min<std::uint64_t>(run.next_valid.load(), pool.size());
  for (std::uint64_t i = 0; i < used; ++i) {
    const PoolEntry& e = pool[i];
    accepted_total += e.accepted;
    if (e.accepted > 1) ++accepted_twice;
    if (e.flags & kUnknown) {
      ++maybe[e.law][e.choice];
    } else if (e.flags & kGot202) {
      ++expected[e.law][e.choice];
      if (e.accepted == 0) ++never_accepted;
    } else if (e.accepted != 0) {
      ++accepted_twice;  // cannot happen: accepted without a 202
    }
  }
  mm.AddCount(never_accepted,
              "registered credentials got 202 but none of their votes was accepted (already used "
              "before this run? see --registry-offset)");
  mm.AddCount(accepted_twice, "credentials were accepted more than once");
  mm.AddCount(invalid_wrong, "unregistered credentials ended with a status other than invalid");

  // 4. Published tallies moved by exactly the ground truth.
  auto after = ReadTallies(run.targets, laws, options.timeout);
  if (!after.ok()) {
    mm.Add("cannot read results after the run: {}", after.error());
    report.verify_ok = false;
    return;
  }
  report.tally_after = *after;
  // Ballots are counted in groups (docs/ballot-secrecy.md): some of this run's may still wait
  // uncounted after it, and some left uncounted before it may have been counted during it. Per
  // law, the ballots cast (counted + uncounted) moved exactly by the ground truth; per choice, the
  // tally is exact only when nothing waits before or after, else within those uncounted.
  std::uint64_t delta_total = 0, maybe_total = 0, uncounted_total = 0;
  for (std::size_t l = 0; l < laws.size(); ++l) {
    const LawCount& b = report.tally_before[l];
    const LawCount& a = (*after)[l];
    uncounted_total += a.uncounted;
    for (int c = 0; c < 2; ++c) {
      const std::uint64_t before = c == 0 ? b.oui : b.non;
      const std::uint64_t now = c == 0 ? a.oui : a.non;
      const std::string_view choice = c == 0 ? "oui" : "non";
      if (now < before) {
        mm.Add("law {} {}: tally went down from {} to {}", laws[l], choice, before, now);
        continue;
      }
      const std::uint64_t delta = now - before;
      delta_total += delta;
      maybe_total += maybe[l][c];
      const std::uint64_t lo = expected[l][c] > a.uncounted ? expected[l][c] - a.uncounted : 0;
      const std::uint64_t hi = expected[l][c] + maybe[l][c] + b.uncounted;
      if (delta < lo || delta > hi) {
        if (lo == hi) {
          mm.Add("law {} {}: tally moved by {}, ground truth {}", laws[l], choice, delta, lo);
        } else {
          mm.Add("law {} {}: tally moved by {}, ground truth between {} and {} ({} votes got no "
                 "answer, {} uncounted before and {} after)",
                 laws[l], choice, delta, lo, hi, maybe[l][c], b.uncounted, a.uncounted);
        }
      }
    }
    const std::uint64_t cast_before = b.oui + b.non + b.uncounted;
    const std::uint64_t cast_after = a.oui + a.non + a.uncounted;
    const std::uint64_t truth = expected[l][0] + expected[l][1];
    const std::uint64_t truth_hi = truth + maybe[l][0] + maybe[l][1];
    const std::uint64_t cast = cast_after >= cast_before ? cast_after - cast_before : 0;
    if (cast_after < cast_before || cast < truth || cast > truth_hi) {
      mm.Add("law {}: ballots cast (counted + uncounted) moved by {}, ground truth {}{}", laws[l],
             cast, truth, truth_hi == truth ? "" : fmt::format(" to {}", truth_hi));
    }
  }
  // 5. Every 202 accounted for: the accepted statuses are the tally movement.
  if (maybe_total == 0 && uncounted_total == 0 && accepted_total != delta_total) {
    mm.Add("{} votes have status accepted but the tallies moved by {}", accepted_total,
           delta_total);
  }
  report.verify_ok = mm.count() == 0;
}

void CheckAnswers(const LoadReport& report, std::uint64_t invalid_not_invalid, Mismatches& mm) {
  auto count_not = [&](RequestKind k, int expected_status) {
    std::uint64_t n = 0;
    const auto& by = report.status_by_kind[static_cast<std::size_t>(k)];
    for (std::size_t s = 0; s < by.size(); ++s) {
      if (static_cast<int>(s) != expected_status) n += by[s];
    }
    return n;
  };
  mm.AddCount(count_not(RequestKind::kMalformed, 400), "malformed requests were not answered 400");
  for (RequestKind k : {RequestKind::kValid, RequestKind::kDuplicate, RequestKind::kInvalid}) {
    const std::uint64_t n = report.status_by_kind[static_cast<std::size_t>(k)][400];
    mm.AddCount(n, fmt::format("well-formed {} votes were answered 400", ToString(k)));
  }
  mm.AddCount(invalid_not_invalid,
              "unregistered credentials were answered 202 with a status other than invalid");
  mm.AddCount(report.unreadable_202, "202 answers had no readable status/request_id");
}

}  // namespace scrutin::loadgen

#include "loadgen/load_run.hpp"

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
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/registry.hpp"
#include "core/vote.hpp"
#include "loadgen/vote_requests.hpp"

namespace scrutin::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxLaws = 255;
constexpr std::size_t kMaxMismatchLines = 40;

// Per-credential state bits (PoolEntry::flags).
constexpr std::uint8_t kSent = 1;           // its first (valid) vote was sent
constexpr std::uint8_t kGot202 = 2;         // some vote with it got a 202
constexpr std::uint8_t kUnknown = 4;        // some vote with it got no answer at all
constexpr std::uint8_t kAcceptedAt202 = 8;  // the first vote's 202 already said accepted

// One registry row and what happened to it. Written only by the thread that took the row as a
// valid vote (its duplicates come from that thread's own list), read after the run.
struct PoolEntry {
  std::uint32_t nas = 0;
  std::array<char, 6> code{};
  std::uint8_t law = 0;
  std::uint8_t choice = 0;  // core::Choice of the first vote
  std::uint8_t flags = 0;
  std::uint8_t accepted = 0;  // "accepted" statuses seen for it (saturating)
};

struct Electorate {
  std::vector<PoolEntry> pool;  // rows from registry_offset on, in file order
  std::vector<std::string> laws;
  std::vector<std::uint32_t> nas_sorted;  // every NAS of the file, sorted, unique
  std::uint64_t rows = 0;

  bool Registered(std::uint32_t nas) const {
    return std::binary_search(nas_sorted.begin(), nas_sorted.end(), nas);
  }
};

core::Result<Electorate> LoadElectorate(const std::filesystem::path& path, std::uint64_t offset) {
  auto reader = core::RegistryReader::Open(path);
  if (!reader.ok()) return core::Fail(fmt::format("--voters: {}", reader.error()));
  Electorate e;
  std::unordered_map<std::string, std::uint8_t> law_index;
  core::RegistryRow row;
  while (true) {
    auto next = (*reader)->Next(row);
    if (!next.ok()) return core::Fail(fmt::format("--voters {}: {}", path.string(), next.error()));
    if (!*next) break;
    const std::uint64_t n = e.rows++;
    std::uint32_t nas = 0;
    for (char c : row.nas) nas = nas * 10 + static_cast<std::uint32_t>(c - '0');
    e.nas_sorted.push_back(nas);
    auto [it, inserted] = law_index.try_emplace(row.law_id, 0);
    if (inserted) {
      if (e.laws.size() >= kMaxLaws) {
        return core::Fail(fmt::format("--voters: more than {} laws", kMaxLaws));
      }
      it->second = static_cast<std::uint8_t>(e.laws.size());
      e.laws.push_back(row.law_id);
    }
    if (n < offset) continue;
    PoolEntry p;
    p.nas = nas;
    std::copy_n(row.code.begin(), 6, p.code.begin());
    p.law = it->second;
    e.pool.push_back(p);
  }
  std::sort(e.nas_sorted.begin(), e.nas_sorted.end());
  e.nas_sorted.erase(std::unique(e.nas_sorted.begin(), e.nas_sorted.end()), e.nas_sorted.end());
  if (e.rows == 0) return core::Fail(fmt::format("--voters {}: no voter", path.string()));
  return e;
}

std::uint64_t SplitMix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct Pending {
  std::array<char, 36> id;
  std::uint32_t cred;  // pool index (valid/duplicate); unused for invalid
  std::uint8_t kind;
};

// What every thread of a vote run shares. The pool entries are partitioned by ownership (see
// PoolEntry); next_valid hands out fresh rows.
struct VoteRun {
  const LoadOptions& options;
  Electorate& electorate;
  Target target;
  std::string post_head;
  std::atomic<std::uint64_t> next_valid{0};
};

class VoteWorkload final : public Workload {
 public:
  VoteWorkload(VoteRun& run, unsigned thread)
      : run_(run), rng_(SplitMix(run.options.seed * 1'000'003 + thread)) {
    body_.reserve(256);
  }

  bool Prepare(RequestSlot& slot) override {
    auto& pool = run_.electorate.pool;
    RequestKind kind = run_.options.mix.Pick(Uniform());
    if (kind == RequestKind::kDuplicate && used_.empty()) kind = RequestKind::kValid;
    body_.clear();
    CredentialText text;
    std::uint8_t choice = 0;
    switch (kind) {
      case RequestKind::kValid: {
        const std::uint64_t idx = run_.next_valid.fetch_add(1, std::memory_order_relaxed);
        if (idx >= pool.size()) {
          exhausted_ = true;
          return false;
        }
        PoolEntry& e = pool[idx];
        e.choice = static_cast<std::uint8_t>(rng_() & 1);
        e.flags |= kSent;
        choice = e.choice;
        Text(e, text);
        AppendVoteBody(body_, text, run_.electorate.laws[e.law], static_cast<core::Choice>(choice),
                       Style());
        slot.tag = idx;
        break;
      }
      case RequestKind::kDuplicate: {
        const std::uint32_t idx = used_[rng_() % used_.size()];
        const PoolEntry& e = pool[idx];
        choice = (e.flags & kAcceptedAt202) ? static_cast<std::uint8_t>(rng_() & 1) : e.choice;
        Text(e, text);
        AppendVoteBody(body_, text, run_.electorate.laws[e.law], static_cast<core::Choice>(choice),
                       Style());
        slot.tag = idx;
        break;
      }
      case RequestKind::kInvalid:
        Unregistered(text);
        choice = static_cast<std::uint8_t>(rng_() & 1);
        AppendVoteBody(body_, text, RandomLaw(), static_cast<core::Choice>(choice), Style());
        break;
      case RequestKind::kMalformed:
        Unregistered(text);
        AppendMalformedBody(body_, static_cast<int>(rng_() % kMalformedVariants), text,
                            RandomLaw());
        break;
    }
    slot.tag2 = static_cast<std::uint32_t>(kind) | (static_cast<std::uint32_t>(choice) << 8);
    ++sent[static_cast<std::size_t>(kind)];
    AssemblePost(slot.bytes, run_.post_head, body_);
    return true;
  }

  void OnResponse(const RequestSlot& slot, int status, std::string_view body) override {
    const auto kind = static_cast<RequestKind>(slot.tag2 & 0xff);
    const auto k = static_cast<std::size_t>(kind);
    ++status_by_kind[k][status > 0 && status < 600 ? status : 0];
    if (status != 202 || kind == RequestKind::kMalformed) return;
    PoolEntry* e = kind == RequestKind::kInvalid ? nullptr : &run_.electorate.pool[slot.tag];
    const auto word = FindJsonString(body, "status");
    const auto st = word ? core::ParseVoteStatus(*word) : std::nullopt;
    const auto id = FindJsonString(body, "request_id");
    if (!st || (*st == core::VoteStatus::kPending && (!id || id->size() != 36))) {
      ++unreadable_202;
      if (e != nullptr) e->flags |= kUnknown;
      return;
    }
    ++status_in_202[static_cast<std::size_t>(*st)];
    if (*st == core::VoteStatus::kPending && run_.options.verify) {
      Pending p;
      std::copy_n(id->begin(), 36, p.id.begin());
      p.cred = static_cast<std::uint32_t>(slot.tag);
      p.kind = static_cast<std::uint8_t>(kind);
      pending.push_back(p);
    }
    if (e == nullptr) {
      if (*st != core::VoteStatus::kPending && *st != core::VoteStatus::kInvalid) {
        ++invalid_not_invalid;
      }
      return;
    }
    if (!(e->flags & kGot202)) {
      e->flags |= kGot202;
      used_.push_back(static_cast<std::uint32_t>(slot.tag));
    }
    if (*st == core::VoteStatus::kAccepted) {
      if (e->accepted < 255) ++e->accepted;
      if (kind == RequestKind::kValid) e->flags |= kAcceptedAt202;
    }
  }

  void OnFailure(const RequestSlot& slot, Failure) override {
    const auto kind = static_cast<RequestKind>(slot.tag2 & 0xff);
    if (kind == RequestKind::kValid || kind == RequestKind::kDuplicate) {
      run_.electorate.pool[slot.tag].flags |= kUnknown;
    }
  }

  std::array<std::uint64_t, kRequestKinds> sent{};
  std::array<std::array<std::uint64_t, 600>, kRequestKinds> status_by_kind{};
  std::array<std::uint64_t, 4> status_in_202{};
  std::uint64_t unreadable_202 = 0;
  std::uint64_t invalid_not_invalid = 0;
  std::vector<Pending> pending;
  bool exhausted() const { return exhausted_; }

 private:
  double Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  BodyStyle Style() { return (rng_() & 7) == 0 ? BodyStyle::kHuman : BodyStyle::kCompact; }
  const std::string& RandomLaw() {
    const auto& laws = run_.electorate.laws;
    return laws[rng_() % laws.size()];
  }
  static void Text(const PoolEntry& e, CredentialText& text) {
    FormatNas(e.nas, text.nas);
    text.code = e.code;
  }
  // A well-formed credential that is not in the registry: its NAS is no registered NAS.
  void Unregistered(CredentialText& text) {
    std::uint32_t nas;
    do {
      nas = RandomLuhnNas(rng_);
    } while (run_.electorate.Registered(nas));
    FormatNas(nas, text.nas);
    RandomCode(rng_, text.code);
  }

  VoteRun& run_;
  std::mt19937_64 rng_;
  std::string body_;
  std::vector<std::uint32_t> used_;  // rows of this thread whose first vote got a 202
  bool exhausted_ = false;
};

// --- verification ----------------------------------------------------------------------------

// A blocking GET for the few requests outside the load (results before and after).
core::Result<std::pair<int, std::string>> HttpGet(const Target& target, const std::string& path,
                                                  std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  boost::system::error_code ec;
  const auto results = resolver.resolve(target.host, std::to_string(target.port), ec);
  if (ec) return core::Fail(fmt::format("GET {}: cannot resolve: {}", path, ec.message()));
  stream.expires_after(timeout);
  stream.connect(results, ec);
  if (ec) return core::Fail(fmt::format("GET {}: cannot connect: {}", path, ec.message()));
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, target.host_header);
  http::write(stream, req, ec);
  if (ec) return core::Fail(fmt::format("GET {}: {}", path, ec.message()));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return core::Fail(fmt::format("GET {}: {}", path, ec.message()));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return std::pair<int, std::string>{res.result_int(), std::move(res.body())};
}

core::Result<std::vector<LawCount>> ReadTallies(const Target& target,
                                                const std::vector<std::string>& laws,
                                                std::chrono::milliseconds timeout) {
  std::vector<LawCount> out;
  for (const auto& law : laws) {
    auto got = HttpGet(target, "/api/v1/results/" + law, timeout);
    if (!got.ok()) return core::Fail(got.error());
    const auto& [status, body] = *got;
    if (status == 404) {
      return core::Fail(fmt::format("law {} of the registry is not on the server's ballot", law));
    }
    if (status == 403) {
      return core::Fail(fmt::format("results of law {} are embargoed: cannot verify", law));
    }
    if (status != 200) {
      return core::Fail(fmt::format("GET /api/v1/results/{}: HTTP {}", law, status));
    }
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains("oui") ||
        !json.contains("non") || !json["oui"].is_number_unsigned() ||
        !json["non"].is_number_unsigned()) {
      return core::Fail(fmt::format("GET /api/v1/results/{}: unreadable body", law));
    }
    out.push_back({law, json["oui"].get<std::uint64_t>(), json["non"].get<std::uint64_t>()});
  }
  return out;
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

class Mismatches {
 public:
  explicit Mismatches(std::vector<std::string>& out) : out_(out) {}
  template <typename... Args>
  void Add(fmt::format_string<Args...> f, Args&&... args) {
    ++count_;
    if (out_.size() < kMaxMismatchLines)
      out_.push_back(fmt::format(f, std::forward<Args>(args)...));
  }
  // A class of mismatches counted in bulk, reported as one line.
  void AddCount(std::uint64_t n, std::string_view what) {
    if (n == 0) return;
    ++count_;
    out_.push_back(fmt::format("{} {}", n, what));
  }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<std::string>& out_;
  std::uint64_t count_ = 0;
};

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
    EngineOptions eo;
    eo.target = run.target;
    eo.threads = std::min<unsigned>(options.threads, static_cast<unsigned>(todo.size()));
    eo.connections = std::clamp<unsigned>(
        static_cast<unsigned>(std::min<std::size_t>(todo.size(), options.connections)), eo.threads,
        256);
    eo.timeout = options.timeout;
    const unsigned threads = eo.threads;
    Engine engine(eo, [&](unsigned t) {
      return std::make_unique<PollWorkload>(todo, pending, run.target, t, threads);
    });
    if (auto st = engine.Start(); !st.ok()) {
      mm.Add("cannot poll vote statuses: {}", st.error());
      break;
    }
    while (!engine.WaitFor(std::chrono::milliseconds(200))) {
    }
    report.polls += engine.Totals().sent;
    std::vector<std::uint32_t> again;
    for (unsigned t = 0; t < threads; ++t) {
      for (const auto& r : static_cast<PollWorkload&>(engine.workload(t)).results) {
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
  auto after = ReadTallies(run.target, laws, options.timeout);
  if (!after.ok()) {
    mm.Add("cannot read results after the run: {}", after.error());
    report.verify_ok = false;
    return;
  }
  report.tally_after = *after;
  std::uint64_t delta_total = 0, maybe_total = 0;
  for (std::size_t l = 0; l < laws.size(); ++l) {
    for (int c = 0; c < 2; ++c) {
      const std::uint64_t before = c == 0 ? report.tally_before[l].oui : report.tally_before[l].non;
      const std::uint64_t now = c == 0 ? (*after)[l].oui : (*after)[l].non;
      const std::string_view choice = c == 0 ? "oui" : "non";
      if (now < before) {
        mm.Add("law {} {}: tally went down from {} to {}", laws[l], choice, before, now);
        continue;
      }
      const std::uint64_t delta = now - before;
      delta_total += delta;
      maybe_total += maybe[l][c];
      const std::uint64_t lo = expected[l][c], hi = expected[l][c] + maybe[l][c];
      if (delta < lo || delta > hi) {
        if (lo == hi) {
          mm.Add("law {} {}: tally moved by {}, ground truth {}", laws[l], choice, delta, lo);
        } else {
          mm.Add(
              "law {} {}: tally moved by {}, ground truth between {} and {} ({} votes got no "
              "answer)",
              laws[l], choice, delta, lo, hi, maybe[l][c]);
        }
      }
    }
  }
  // 5. Every 202 accounted for: the accepted statuses are the tally movement.
  if (maybe_total == 0 && accepted_total != delta_total) {
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

void PrintProgress(const Engine& engine, std::uint64_t& last_answered, double& last_t) {
  const EngineTotals t = engine.Totals();
  LatencyHistogram h;
  engine.MergeLatency(h);
  const double now = std::chrono::duration<double>(engine.Elapsed()).count();
  const double rate = now > last_t ? (t.answered - last_answered) / (now - last_t) : 0;
  last_answered = t.answered;
  last_t = now;
  std::uint64_t errors = t.timeouts + t.io_errors;
  for (std::size_t s = 500; s < 600; ++s) errors += t.by_status[s];
  errors += t.by_status[429];
  std::fprintf(stderr, "\r\033[K%7.1fs  %9llu answered  %8.0f/s  errors %llu  p99 %.2f ms", now,
               static_cast<unsigned long long>(t.answered), rate,
               static_cast<unsigned long long>(errors), h.Percentile(99) / 1000.0);
  std::fflush(stderr);
}

}  // namespace

core::Result<LoadReport> RunLoad(const LoadOptions& options) {
  if (options.duration_s.has_value() == options.votes.has_value()) {
    return core::Fail(std::string("give exactly one of --duration and --votes"));
  }
  if (options.rate < 0 || !std::isfinite(options.rate)) {
    return core::Fail(std::string("--rate must be a positive number or 'max'"));
  }
  if (options.duration_s && !(*options.duration_s > 0)) {
    return core::Fail(std::string("--duration must be positive"));
  }
  if (options.votes && *options.votes == 0) return core::Fail(std::string("--votes must be >= 1"));
  if (options.threads == 0 || options.connections == 0) {
    return core::Fail(std::string("--threads and --connections must be >= 1"));
  }
  auto target = ParseTarget(options.target);
  if (!target.ok()) return core::Fail(target.error());
  auto electorate = LoadElectorate(options.voters, options.registry_offset);
  if (!electorate.ok()) return core::Fail(electorate.error());
  const double valid_share = options.mix.share(RequestKind::kValid);
  if (options.votes && valid_share > 0) {
    const double needed = std::ceil(static_cast<double>(*options.votes) * valid_share);
    if (needed > static_cast<double>(electorate->pool.size())) {
      return core::Fail(fmt::format(
          "--voters has {} unused registry rows after --registry-offset {}, but --votes {} with "
          "valid={} needs about {:.0f}",
          electorate->pool.size(), options.registry_offset, *options.votes, valid_share, needed));
    }
  }

  LoadReport report;
  report.target = options.target;
  report.open_loop = options.rate > 0;
  report.rate = options.rate;
  report.threads = std::min(options.threads, options.connections);
  report.connections = options.connections;
  report.mix = options.mix.ToString();
  report.seed = options.seed;
  report.registry_rows = electorate->rows;
  report.registry_first = options.registry_offset;

  VoteRun run{options, *electorate, *target, PostHead(options.path, target->host_header)};
  if (options.verify) {
    auto before = ReadTallies(*target, electorate->laws, options.timeout);
    if (!before.ok()) return core::Fail(fmt::format("--verify: {}", before.error()));
    report.tally_before = std::move(*before);
  }

  EngineOptions eo;
  eo.target = *target;
  eo.threads = report.threads;
  eo.connections = options.connections;
  eo.rate = options.rate;
  eo.max_requests = options.votes.value_or(0);
  if (options.duration_s) {
    eo.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(*options.duration_s * 1e9));
  }
  eo.timeout = options.timeout;
  Engine engine(eo, [&run](unsigned t) { return std::make_unique<VoteWorkload>(run, t); });
  if (auto st = engine.Start(); !st.ok()) return core::Fail(st.error());

  std::uint64_t last_answered = 0;
  double last_t = 0;
  auto next_progress = SteadyClock::now() + std::chrono::seconds(1);
  while (!engine.WaitFor(std::chrono::milliseconds(100))) {
    if (options.interrupted && !report.interrupted && options.interrupted()) {
      report.interrupted = true;
      engine.RequestStop();
    }
    if (options.progress && SteadyClock::now() >= next_progress) {
      next_progress += std::chrono::seconds(1);
      PrintProgress(engine, last_answered, last_t);
    }
  }
  if (options.progress) {
    PrintProgress(engine, last_answered, last_t);
    std::fputc('\n', stderr);
  }

  report.elapsed_s = std::chrono::duration<double>(engine.Elapsed()).count();
  report.totals = engine.Totals();
  LatencyHistogram latency;
  engine.MergeLatency(latency);
  report.lat_count = latency.count();
  report.p50 = latency.Percentile(50);
  report.p90 = latency.Percentile(90);
  report.p99 = latency.Percentile(99);
  report.p999 = latency.Percentile(99.9);
  report.lat_max = latency.max();
  report.lat_mean = latency.Mean();

  std::vector<Pending> pending;
  std::uint64_t invalid_not_invalid = 0;
  for (unsigned t = 0; t < engine.threads(); ++t) {
    auto& w = static_cast<VoteWorkload&>(engine.workload(t));
    for (std::size_t k = 0; k < kRequestKinds; ++k) {
      report.sent_by_kind[k] += w.sent[k];
      for (std::size_t s = 0; s < 600; ++s) report.status_by_kind[k][s] += w.status_by_kind[k][s];
    }
    for (std::size_t s = 0; s < 4; ++s) report.status_in_202[s] += w.status_in_202[s];
    report.unreadable_202 += w.unreadable_202;
    invalid_not_invalid += w.invalid_not_invalid;
    report.registry_exhausted = report.registry_exhausted || w.exhausted();
    pending.insert(pending.end(), w.pending.begin(), w.pending.end());
    std::vector<Pending>().swap(w.pending);
  }
  const std::uint64_t used =
      std::min<std::uint64_t>(run.next_valid.load(), run.electorate.pool.size());
  report.registry_next = options.registry_offset + used;
  report.ground_truth.resize(electorate->laws.size());
  for (std::size_t l = 0; l < electorate->laws.size(); ++l) {
    report.ground_truth[l].law_id = electorate->laws[l];
  }
  for (std::uint64_t i = 0; i < used; ++i) {
    const PoolEntry& e = run.electorate.pool[i];
    if ((e.flags & kGot202) && !(e.flags & kUnknown)) {
      (e.choice == 0 ? report.ground_truth[e.law].oui : report.ground_truth[e.law].non) += 1;
    }
  }

  if (options.verify) {
    Verify(options, run, pending, report);
    Mismatches mm(report.mismatches);
    CheckAnswers(report, invalid_not_invalid, mm);
    if (mm.count() > 0) report.verify_ok = false;
  }
  return report;
}

// --- reports ---------------------------------------------------------------------------------

namespace {

double Ms(std::uint64_t micros) { return micros / 1000.0; }

const char* kStatusNames[4] = {"pending", "accepted", "duplicate", "invalid"};

}  // namespace

std::string LoadReport::ToText() const {
  std::string out;
  auto line = [&out](std::string s) {
    out += s;
    out += '\n';
  };
  line(fmt::format("scrutin loadgen → {}  ({}, connections {}, threads {}, seed {})", target,
                   open_loop ? fmt::format("open loop at {:g} req/s", rate) : "closed loop",
                   connections, threads, seed));
  line(fmt::format("  mix       {}", mix));
  if (interrupted) line("  INTERRUPTED: sending stopped early on request");
  line(fmt::format("  requests  {} sent, {} answered in {:.2f} s = {:.0f} answers/s", totals.sent,
                   totals.answered, elapsed_s, throughput()));
  line(fmt::format("  sent      valid {}  duplicate {}  invalid {}  malformed {}", sent_by_kind[0],
                   sent_by_kind[1], sent_by_kind[2], sent_by_kind[3]));
  std::string http_line = "  http     ";
  for (std::size_t s = 0; s < totals.by_status.size(); ++s) {
    if (totals.by_status[s] != 0) {
      http_line += fmt::format(" {}: {}", s == 0 ? std::string("other") : std::to_string(s),
                               totals.by_status[s]);
    }
  }
  line(http_line);
  line(fmt::format("  202 body  accepted {}  duplicate {}  invalid {}  pending {}",
                   status_in_202[1], status_in_202[2], status_in_202[3], status_in_202[0]));
  line(fmt::format("  failures  timeout {}  io {}  connect {}  reconnects {}  unsent (backlog) {}",
                   totals.timeouts, totals.io_errors, totals.connect_errors, totals.reconnects,
                   totals.unsent));
  line(fmt::format(
      "  latency   p50 {:.3f} ms  p90 {:.3f} ms  p99 {:.3f} ms  p99.9 {:.3f} ms  max {:.3f} ms  "
      "mean {:.3f} ms  ({} answers{})",
      Ms(p50), Ms(p90), Ms(p99), Ms(p999), Ms(lat_max), lat_mean / 1000.0, lat_count,
      open_loop ? ", from the scheduled time" : ""));
  std::string truth = "  truth    ";
  for (const auto& l : ground_truth) {
    truth += fmt::format(" {} oui {} non {};", l.law_id, l.oui, l.non);
  }
  line(truth);
  line(fmt::format("  registry  rows [{}, {}) of {} used as valid votes{}", registry_first,
                   registry_next, registry_rows,
                   registry_exhausted ? " — EXHAUSTED, the run stopped early" : ""));
  if (verified) {
    line(fmt::format("  final     accepted {}  duplicate {}  invalid {}  ({} status polls)",
                     final_status[1], final_status[2], final_status[3], polls));
    if (verify_ok) {
      line(
          "  verify    OK: every 202 is final and accounted for; tallies moved by the ground "
          "truth");
    } else {
      line(fmt::format("  verify    FAILED ({} findings):", mismatches.size()));
      for (const auto& m : mismatches) line("    - " + m);
    }
  }
  return out;
}

nlohmann::json LoadReport::ToJson() const {
  nlohmann::json j;
  j["target"] = target;
  j["mode"] = open_loop ? "open" : "closed";
  j["rate"] = open_loop ? nlohmann::json(rate) : nlohmann::json("max");
  j["connections"] = connections;
  j["threads"] = threads;
  j["mix"] = mix;
  j["seed"] = seed;
  j["elapsed_s"] = elapsed_s;
  j["interrupted"] = interrupted;
  j["sent"] = totals.sent;
  j["answered"] = totals.answered;
  j["throughput_rps"] = throughput();
  nlohmann::json kinds;
  for (std::size_t k = 0; k < kRequestKinds; ++k) {
    kinds[std::string(ToString(static_cast<RequestKind>(k)))] = sent_by_kind[k];
  }
  j["sent_by_kind"] = kinds;
  nlohmann::json http_status = nlohmann::json::object();
  for (std::size_t s = 0; s < totals.by_status.size(); ++s) {
    if (totals.by_status[s] != 0) {
      http_status[s == 0 ? std::string("other") : std::to_string(s)] = totals.by_status[s];
    }
  }
  j["http_status"] = http_status;
  nlohmann::json in202;
  for (std::size_t s = 0; s < 4; ++s) in202[kStatusNames[s]] = status_in_202[s];
  j["vote_status_in_202"] = in202;
  j["unreadable_202"] = unreadable_202;
  j["failures"] = {{"timeout", totals.timeouts},
                   {"io", totals.io_errors},
                   {"connect", totals.connect_errors},
                   {"reconnects", totals.reconnects},
                   {"unsent_backlog", totals.unsent}};
  j["latency_ms"] = {{"count", lat_count},       {"p50", Ms(p50)},    {"p90", Ms(p90)},
                     {"p99", Ms(p99)},           {"p99_9", Ms(p999)}, {"max", Ms(lat_max)},
                     {"mean", lat_mean / 1000.0}};
  nlohmann::json truth = nlohmann::json::object();
  for (const auto& l : ground_truth) truth[l.law_id] = {{"oui", l.oui}, {"non", l.non}};
  j["ground_truth"] = truth;
  j["registry"] = {{"rows", registry_rows},
                   {"first", registry_first},
                   {"next", registry_next},
                   {"exhausted", registry_exhausted}};
  if (verified) {
    nlohmann::json v;
    v["ok"] = verify_ok;
    nlohmann::json fin;
    for (std::size_t s = 1; s < 4; ++s) fin[kStatusNames[s]] = final_status[s];
    v["final_status"] = fin;
    v["polls"] = polls;
    nlohmann::json before = nlohmann::json::object(), after = nlohmann::json::object();
    for (const auto& l : tally_before) before[l.law_id] = {{"oui", l.oui}, {"non", l.non}};
    for (const auto& l : tally_after) after[l.law_id] = {{"oui", l.oui}, {"non", l.non}};
    v["tally_before"] = before;
    v["tally_after"] = after;
    v["mismatches"] = mismatches;
    j["verify"] = v;
  }
  return j;
}

}  // namespace scrutin::loadgen

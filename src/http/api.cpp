#include "http/api.hpp"

#include <strings.h>

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <string_view>

#include "core/normalise.hpp"
#include "core/request_id.hpp"
#include "core/vote_request.hpp"
#include "http/health.hpp"
#include "http/json.hpp"

namespace scrutin::http {

namespace bhttp = boost::beast::http;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kVotePath = "/api/v1/vote";
constexpr std::string_view kVoteStatusPrefix = "/api/v1/vote/";
constexpr std::string_view kResultsPrefix = "/api/v1/results/";
constexpr std::string_view kReceiptsPrefix = "/api/v1/receipts/";
constexpr std::string_view kRecordPrefix = "/api/v1/record/";
constexpr std::string_view kRecordReceiptsSuffix = "/receipts";
constexpr std::string_view kLawsPath = "/api/v1/laws";
constexpr std::string_view kHealthPath = "/api/v1/health";
constexpr std::string_view kMetricsPath = "/metrics";

constexpr std::array<std::string_view, static_cast<std::size_t>(Api::Route::kCount)> kRouteNames = {
    "vote", "vote_status", "receipt", "results", "record", "laws", "health", "metrics",
    "static", "not_found"};

// Status codes with their own api_request_duration_seconds{code} label; anything else is "other".
constexpr std::array<unsigned, 15> kKnownStatuses = {200, 202, 304, 400, 403, 404, 405, 413,
                                                     415, 429, 431, 500, 503, 204, 408};

std::size_t StatusSlot(unsigned status) {
  for (std::size_t i = 0; i < kKnownStatuses.size(); ++i) {
    if (kKnownStatuses[i] == status) return i;
  }
  return kKnownStatuses.size();  // "other"
}

Response Error(unsigned status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.body = ErrorBody(code, message);
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Response MethodNotAllowed(std::string_view allow) {
  Response r =
      Error(405, "method_not_allowed", "This method is not allowed here; see the Allow header.");
  r.AddHeader("Allow", allow);
  return r;
}

// 429 {"error": "rate_limited", "scope": ..., "message": ...} with Retry-After (at least 1 s).
Response RateLimited(std::string_view scope, std::string_view message,
                     std::chrono::seconds retry_after) {
  Response r;
  r.status = 429;
  JsonObject(r.body)
      .Str("error", "rate_limited")
      .Str("scope", scope)
      .Str("message", message)
      .Close();
  r.AddHeader("Retry-After", std::to_string(std::max<std::int64_t>(1, retry_after.count())));
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

Response NotFound(std::string_view message) { return Error(404, "not_found", message); }

Response Unavailable(std::string_view message, std::chrono::seconds retry_after) {
  Response r = Error(503, "unavailable", message);
  r.AddHeader("Retry-After", std::to_string(std::max<std::int64_t>(1, retry_after.count())));
  return r;
}

Response Json(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

// "application/json", optionally followed by parameters ("; charset=utf-8"), case-insensitive.
bool IsJsonContentType(std::string_view v) {
  auto semi = v.find(';');
  std::string_view type = v.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return type.size() == kJson.size() && strncasecmp(type.data(), kJson.data(), kJson.size()) == 0;
}

std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

bool IsGetOrHead(bhttp::verb v) { return v == bhttp::verb::get || v == bhttp::verb::head; }

constexpr std::string_view kStatusBusy =
    "Vote statuses cannot be read right now; please retry shortly.";

// The answer to GET /api/v1/vote/{id} once the id is known to be well-formed.
Response StatusAnswer(ports::VoteQueries& queries, const core::RequestId& id) {
  auto found = queries.FindStatus(id);
  if (!found) return Unavailable(kStatusBusy, std::chrono::seconds(1));
  if (!found.value()) return NotFound("There is no vote request with this id.");
  const ports::StatusRecord& rec = *found.value();
  Response r = Json(200, {});
  JsonObject o(r.body);
  o.Str("request_id", id.ToString())
      .Str("status", core::ToString(rec.status))
      .Str("law_id", rec.law_id)
      .Uint("attempt_count", rec.attempt_count);
  if (rec.status == core::VoteStatus::kAccepted) o.Str("receipt", core::Receipt(id));
  o.Close();
  return r;
}

constexpr std::string_view kReceiptBusy =
    "Receipts cannot be checked right now; please retry shortly.";

// The answer to GET /api/v1/receipts/{receipt}: counted or not, never how.
Response ReceiptAnswer(ports::VoteQueries& queries, std::string_view text) {
  constexpr std::string_view kNotCounted =
      "No counted ballot has this receipt yet. Ballots are counted in groups, so a receipt "
      "appears once its group is counted: check again later, or after the poll closes.";
  auto receipt = core::ParseReceipt(text);
  if (!receipt) return NotFound(kNotCounted);
  auto found = queries.FindReceipt(*receipt);
  if (!found) return Unavailable(kReceiptBusy, std::chrono::seconds(1));
  if (!found.value()) return NotFound(kNotCounted);
  Response r = Json(200, {});
  JsonObject(r.body)
      .Str("receipt", *receipt)
      .Str("law_id", **found)
      .Bool("counted", true)
      .Close();
  r.AddHeader("Cache-Control", "no-store");
  return r;
}

constexpr std::string_view kRecordBusy = "The record cannot be read right now; please retry shortly.";

// 403 poll_open: the law's record is not published yet; `available_at` says when to look again,
// and Retry-After the same in seconds (at least 1).
Response PollOpen(const core::Law& law, core::Timestamp now, core::Timestamp available_at,
                  std::string_view message) {
  std::string body;
  JsonObject(body)
      .Str("error", "poll_open")
      .Str("message", message)
      .Str("law_id", law.id)
      .Str("available_at", core::FormatTimestamp(available_at))
      .Close();
  Response r = Json(403, std::move(body));
  const auto wait = std::chrono::ceil<std::chrono::seconds>(available_at - now);
  r.AddHeader("Retry-After", std::to_string(std::max<std::int64_t>(1, wait.count())));
  return r;
}

// A sealed record (or its receipts list), as stored. It never changes once sealed.
Response RecordResponse(const core::PublishedRecord& record, bool receipts_list) {
  Response r;
  r.status = 200;
  if (receipts_list) {
    r.content_type = "text/plain; charset=utf-8";
    r.body = record.receipts;
  } else {
    r.body = record.record;
  }
  r.AddHeader("Cache-Control", "public, max-age=300");
  return r;
}

// The answer to GET /api/v1/results/{law} once the law is known and not embargoed.
Response ResultsAnswer(const core::Law& law, const core::Result<ports::Tally>& tally,
                       core::Timestamp now) {
  if (!tally) {
    return Unavailable("Results cannot be read right now; please retry shortly.",
                       std::chrono::seconds(1));
  }
  // A law without any counted vote has no update time of its own: its (zero) count is as of now.
  core::Timestamp updated =
      tally->updated_at.time_since_epoch().count() == 0 ? now : tally->updated_at;
  Response r = Json(200, {});
  JsonObject(r.body)
      .Str("law_id", law.id)
      .Uint("oui", tally->oui)
      .Uint("non", tally->non)
      .Uint("total", tally->oui + tally->non)
      // Recorded, not yet counted: counted in shuffled groups (docs/ballot-secrecy.md).
      .Uint("uncounted", tally->sealed)
      .Str("updated_at", core::FormatTimestamp(updated))
      // Final once the poll has closed and the mixer has counted its last group.
      .Bool("final", law.IsClosed(now) && tally->sealed == 0)
      .Close();
  return r;
}

// Clears a string that may hold a credential when the scope ends, whatever path it ends by.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  ~WipeOnExit() { core::Wipe(s_); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::string& s_;
};

}  // namespace

// One request being answered: its route (for metrics) and the responder.
class Api::Exchange {
 public:
  Exchange(Api& api, Request& request, Responder responder)
      : request(request), api_(api), responder_(std::move(responder)) {}

  void Send(Response r) {
    api_.DurationHistogram(route, r.status)
        .Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
    responder_.Send(std::move(r));
  }
  Responder TakeResponder() { return std::move(responder_); }

  Request& request;
  Route route = Route::kNotFound;
  SteadyClock::time_point start = SteadyClock::now();

 private:
  Api& api_;
  Responder responder_;
};

// A vote handed to the intake, waiting for its answer. One allocation per vote.
struct Api::PendingVote {
  PendingVote(Api& a, Responder r, SteadyClock::time_point s, core::RequestId i)
      : api(a), responder(std::move(r)), start(s), id(i) {}
  Api& api;
  Responder responder;
  SteadyClock::time_point start;
  core::RequestId id;
};

core::Result<std::unique_ptr<Api>> Api::Create(ApiConfig config) {
  StaticFiles files;
  if (config.web_root.empty()) {
    files = StaticFiles::Placeholder();
  } else {
    auto loaded = StaticFiles::Load(config.web_root);
    if (!loaded) return core::Fail(loaded.error());
    files = std::move(loaded).value();
  }
  return std::unique_ptr<Api>(new Api(std::move(config), std::move(files)));
}

Api::Api(ApiConfig config, StaticFiles files)
    : config_(std::move(config)),
      files_(std::move(files)),
      limiter_(config_.rate_limit, config_.rate_burst),
      credentials_(config_.credential_limits) {
}

std::string LawJson(const core::Law& law) {
  std::string title;
  JsonObject(title).Str("fr", law.title_fr).Str("en", law.title_en).Close();
  std::string out;
  JsonObject(out)
      .Str("law_id", law.id)
      .Raw("title", title)
      .Str("opens_at", core::FormatTimestamp(law.opens_at))
      .Str("closes_at", core::FormatTimestamp(law.ClosesAt()))
      .Str("results", core::ToString(law.results))
      .Close();
  return out;
}

core::Timestamp Api::Now() const { return config_.clock ? config_.clock() : core::Clock::now(); }

metrics::Histogram& Api::DurationHistogram(Route route, unsigned status) {
  std::size_t slot = StatusSlot(status);
  auto& cell = durations_[static_cast<std::size_t>(route)][slot];
  metrics::Histogram* h = cell.load(std::memory_order_acquire);
  if (h == nullptr) {
    std::string code = slot < kKnownStatuses.size() ? std::to_string(status) : "other";
    h = &config_.metrics.api_request_duration.WithLabels(
        {kRouteNames[static_cast<std::size_t>(route)], code});
    cell.store(h, std::memory_order_release);
  }
  return *h;
}

void Api::Handle(Request& request, Responder responder) {
  Exchange ex(*this, request, std::move(responder));
  std::string_view target = Sv(request.target());
  std::string_view path = target.substr(0, target.find('?'));
  const bhttp::verb method = request.method();

  if (path == kVotePath) {
    ex.route = Route::kVote;
    if (method != bhttp::verb::post) {
      WipeOnExit wipe(request.body());
      return ex.Send(MethodNotAllowed("POST"));
    }
    return HandleVote(ex);
  }
  if (path.starts_with(kVoteStatusPrefix)) {
    ex.route = Route::kVoteStatus;
    if (!IsGetOrHead(method)) return ex.Send(MethodNotAllowed("GET, HEAD"));
    return HandleVoteStatus(ex, path.substr(kVoteStatusPrefix.size()));
  }
  if (path.starts_with(kReceiptsPrefix)) {
    ex.route = Route::kReceipt;
    if (!IsGetOrHead(method)) return ex.Send(MethodNotAllowed("GET, HEAD"));
    return HandleReceipt(ex, path.substr(kReceiptsPrefix.size()));
  }
  if (path.starts_with(kRecordPrefix)) {
    ex.route = Route::kRecord;
    if (!IsGetOrHead(method)) return ex.Send(MethodNotAllowed("GET, HEAD"));
    return HandleRecord(ex, path.substr(kRecordPrefix.size()));
  }
  if (path.starts_with(kResultsPrefix)) {
    ex.route = Route::kResults;
    if (!IsGetOrHead(method)) return ex.Send(MethodNotAllowed("GET, HEAD"));
    return HandleResults(ex, path.substr(kResultsPrefix.size()));
  }
  if (path == kLawsPath || path == kHealthPath || path == kMetricsPath) {
    ex.route = path == kLawsPath     ? Route::kLaws
               : path == kHealthPath ? Route::kHealth
                                     : Route::kMetrics;
    if (!IsGetOrHead(method)) return ex.Send(MethodNotAllowed("GET, HEAD"));
    if (ex.route == Route::kLaws) return HandleLaws(ex);
    if (ex.route == Route::kHealth) return HandleHealth(ex);
    return HandleMetrics(ex);
  }
  if (path == "/api" || path.starts_with("/api/")) {
    ex.route = Route::kNotFound;
    return ex.Send(NotFound("There is no such API endpoint; see /api/v1/laws."));
  }
  ex.route = Route::kStatic;
  if (!IsGetOrHead(method)) return ex.Send(MethodNotAllowed("GET, HEAD"));
  HandleStatic(ex, path);
}

void Api::HandleVote(Exchange& ex) {
  // The body may hold a NAS and a code whatever happens below: wipe it on every path.
  WipeOnExit wipe(ex.request.body());
  if (!IsJsonContentType(Sv(ex.request[bhttp::field::content_type]))) {
    return ex.Send(Error(415, "unsupported_media_type",
                         "Send the vote as a JSON object with Content-Type: application/json."));
  }
  auto parsed = core::ParseVoteRequest(ex.request.body(), config_.ballot);
  if (!parsed) {
    const auto& err = parsed.error();
    if (err.kind == core::VoteRequestError::Kind::kMalformedJson) {
      return ex.Send(Error(400, "malformed_json", err.message));
    }
    std::string body;
    std::string fields;
    {
      JsonObject f(fields);
      for (const auto& [name, code] : err.fields) f.Str(name, code);
      f.Close();
    }
    JsonObject(body)
        .Str("error", "invalid_request")
        .Str("message", err.message)
        .Raw("fields", fields)
        .Close();
    return ex.Send(Json(400, std::move(body)));
  }
  core::VoteRequest& vote = parsed.value();

  const core::Law* law = config_.ballot.Find(vote.law_id);
  const core::Timestamp now = Now();
  if (law == nullptr || !law->IsOpen(now)) {
    // ParseVoteRequest guarantees the law is on the ballot; a null law is treated as closed.
    std::string body;
    std::string opens = law ? core::FormatTimestamp(law->opens_at) : "";
    std::string closes = law ? core::FormatTimestamp(law->ClosesAt()) : "";
    std::string message =
        law && now < law->opens_at
            ? "Voting on " + law->id + " has not opened yet; it opens at " + opens + "."
            : "Voting on " + vote.law_id + " is closed.";
    JsonObject(body)
        .Str("error", "poll_closed")
        .Str("message", message)
        .Str("law_id", vote.law_id)
        .Str("opens_at", opens)
        .Str("closes_at", closes)
        .Close();
    return ex.Send(Json(403, std::move(body)));
  }

  // Limits, once the request is known to be a well-formed vote for an open law (so that garbage
  // never spends the instance's allowance): first the credential's own allowance (online
  // guessing), then the instance ceiling. The client's own bucket was taken by the server.
  if (auto d = credentials_.Attempt(vote.nas, vote.law_id); !d.allowed) {
    core::Wipe(vote.nas);
    core::Wipe(vote.code);
    return ex.Send(RateLimited(
        "credential",
        "Too many attempts were made with this social insurance number on this law; please "
        "check the code on your letter and retry later.",
        d.retry_after));
  }
  if (auto d = limiter_.Acquire(); !d.allowed) {
    core::Wipe(vote.nas);
    core::Wipe(vote.code);
    return ex.Send(RateLimited(
        "instance", "Too many votes are arriving at this server; please retry in a moment.",
        std::chrono::ceil<std::chrono::seconds>(d.retry_after)));
  }

  core::VoteEnvelope envelope;
  envelope.request_id = core::RequestId::Generate();
  envelope.digest = config_.hasher.Hash(vote.nas, vote.code, vote.law_id);
  envelope.law_id = vote.law_id;
  envelope.received_at = now;
  core::Wipe(vote.nas);
  core::Wipe(vote.code);
  // From here on the choice exists only sealed (docs/ballot-secrecy.md).
  auto sealed = config_.sealer.Seal(vote.law_id, vote.choice, core::Receipt(envelope.request_id));
  if (!sealed) {
    return ex.Send(Unavailable("Your vote could not be recorded right now; please retry shortly.",
                               std::chrono::seconds(1)));
  }
  envelope.ballot = *sealed;

  // The answer comes from the intake, possibly on another thread; the duration is recorded then.
  auto pending =
      std::make_shared<PendingVote>(*this, ex.TakeResponder(), ex.start, envelope.request_id);
  config_.intake.Submit(std::move(envelope), [pending](ports::IntakeResult result) {
    pending->api.OnIntakeResult(*pending, result);
  });
}

void Api::OnIntakeResult(PendingVote& pending, const ports::IntakeResult& result) {
  const auto elapsed = std::chrono::duration<double>(SteadyClock::now() - pending.start).count();
  Response r;
  if (result.kind == ports::IntakeResult::Kind::kDurable) {
    auto& m = config_.metrics;
    m.RecordSubmitted(Now());
    m.RecordDecision(result.decision.status, elapsed);  // pending: decided downstream
    std::string id = pending.id.ToString();
    std::string url = std::string(kVoteStatusPrefix) + id;
    JsonObject(r.body)
        .Str("request_id", id)
        .Str("status", core::ToString(result.decision.status))
        .Str("status_url", url)
        .Close();
    r.status = 202;
    r.AddHeader("Location", url);
    r.AddHeader("Cache-Control", "no-store");
  } else if (result.kind == ports::IntakeResult::Kind::kOverloaded) {
    r = Unavailable("The server is too busy to record your vote right now; please retry shortly.",
                    result.retry_after);
  } else {
    r = Unavailable("Your vote could not be recorded right now; please retry shortly.",
                    result.retry_after);
  }
  DurationHistogram(Route::kVote, r.status).Observe(elapsed);
  pending.responder.Send(std::move(r));
}

void Api::Lookup(Exchange& ex, std::string_view busy, std::function<Response()> answer) {
  if (config_.lookups == nullptr) return ex.Send(answer());
  // The store is remote: read it on the lookup pool, never on this server thread. The answer is
  // sent from the pool's thread (Responder::Send is thread-safe).
  struct Pending {
    Responder responder;
    SteadyClock::time_point start;
    Route route;
  };
  auto pending = std::make_shared<Pending>(Pending{ex.TakeResponder(), ex.start, ex.route});
  auto finish = [this, pending](Response r) {
    DurationHistogram(pending->route, r.status)
        .Observe(std::chrono::duration<double>(SteadyClock::now() - pending->start).count());
    pending->responder.Send(std::move(r));
  };
  const bool queued =
      config_.lookups->TrySubmit([finish, busy, answer = std::move(answer)](bool expired) {
        finish(expired ? Unavailable(busy, std::chrono::seconds(1)) : answer());
      });
  if (!queued) finish(Unavailable(busy, std::chrono::seconds(1)));
}

void Api::HandleVoteStatus(Exchange& ex, std::string_view id_text) {
  auto id = core::RequestId::Parse(id_text);
  if (!id) return ex.Send(NotFound("There is no vote request with this id."));
  Lookup(ex, kStatusBusy, [this, rid = *id] { return StatusAnswer(config_.queries, rid); });
}

void Api::HandleReceipt(Exchange& ex, std::string_view text) {
  Lookup(ex, kReceiptBusy, [this, receipt = std::string(text)] {
    return ReceiptAnswer(config_.queries, receipt);
  });
}

void Api::HandleRecord(Exchange& ex, std::string_view rest) {
  std::string_view law_id = rest;
  bool receipts_list = false;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != kRecordReceiptsSuffix) {
      return ex.Send(NotFound("There is no such API endpoint; see /api/v1/laws."));
    }
    law_id = rest.substr(0, slash);
    receipts_list = true;
  }
  const core::Law* law = config_.ballot.Find(law_id);
  if (law == nullptr) {
    return ex.Send(Error(404, "unknown_law", "There is no law with this id on the ballot."));
  }
  if (!law->IsClosed(Now())) {
    return ex.Send(PollOpen(*law, Now(), law->ClosesAt(),
                            "The record of " + law->id +
                                " is published a few seconds after its poll closes."));
  }
  {
    core::MutexLock lock(records_mu_);
    if (auto it = records_.find(law->id); it != records_.end()) {
      return ex.Send(RecordResponse(*it->second, receipts_list));
    }
  }
  Lookup(ex, kRecordBusy, [this, law, receipts_list] { return RecordAnswer(*law, receipts_list); });
}

Response Api::RecordAnswer(const core::Law& law, bool receipts_list) {
  auto found = config_.queries.FindRecord(law.id);
  if (!found) return Unavailable(kRecordBusy, std::chrono::seconds(1));
  if (!found->has_value()) {
    // Closed, not sealed yet: the mixer counts the last group and seals the record seconds after
    // the close (docs/ballot-secrecy.md).
    constexpr auto kRetry = std::chrono::seconds(5);
    const core::Timestamp now = Now();
    Response r = PollOpen(law, now, now + kRetry,
                          "The poll of " + law.id +
                              " has closed; its last ballots are being counted and its record "
                              "sealed. It is published within seconds.");
    return r;
  }
  auto record = std::make_shared<const core::PublishedRecord>(std::move(**found));
  {
    core::MutexLock lock(records_mu_);
    records_.emplace(law.id, record);  // sealed records never change: kept for every later read
  }
  return RecordResponse(*record, receipts_list);
}

void Api::HandleResults(Exchange& ex, std::string_view law_id) {
  const core::Law* law = config_.ballot.Find(law_id);
  if (law == nullptr) {
    return ex.Send(Error(404, "unknown_law", "There is no law with this id on the ballot."));
  }
  const core::Timestamp now = Now();
  if (!law->ResultsVisible(now)) {
    std::string body;
    JsonObject(body)
        .Str("error", "results_embargoed")
        .Str("message", "The results of " + law->id + " are published when its poll closes.")
        .Str("law_id", law->id)
        .Str("available_at", core::FormatTimestamp(law->ClosesAt()))
        .Close();
    return ex.Send(Json(403, std::move(body)));
  }
  if (!config_.read_tally) {
    return ex.Send(ResultsAnswer(*law, config_.queries.FindTally(law->id), now));
  }

  // The tally source answers later, from its own thread (Responder::Send is thread-safe).
  struct Pending {
    Responder responder;
    SteadyClock::time_point start;
  };
  auto pending = std::make_shared<Pending>(Pending{ex.TakeResponder(), ex.start});
  config_.read_tally(law->id, [this, pending, law](core::Result<ports::Tally> tally) {
    Response r = ResultsAnswer(*law, tally, Now());
    DurationHistogram(Route::kResults, r.status)
        .Observe(std::chrono::duration<double>(SteadyClock::now() - pending->start).count());
    pending->responder.Send(std::move(r));
  });
}

void Api::HandleLaws(Exchange& ex) {
  // Rendered per request: a law's closing time moves with an emergency close or an extension.
  Response r;
  r.body.push_back('[');
  for (const auto& law : config_.ballot.laws()) {
    if (r.body.size() > 1) r.body.push_back(',');
    r.body += LawJson(law);
  }
  r.body.push_back(']');
  r.AddHeader("Cache-Control", "no-cache");
  ex.Send(std::move(r));
}

void Api::HandleHealth(Exchange& ex) {
  // Public: "ok" or "failing" per check, never where a backend is or how it failed.
  HealthSummary health = SummariseHealth(
      config_.health ? config_.health() : config_.intake.Health(), HealthDetail::kPublic);
  std::string body;
  JsonObject(body)
      .Str("status", health.ok ? "ok" : "degraded")
      .Str("shape", config_.shape)
      .Raw("checks", health.checks_json)
      .Close();
  ex.Send(Json(health.ok ? 200 : 503, std::move(body)));
}

void Api::HandleMetrics(Exchange& ex) {
  // votes_by_law is read from the durable tallies, so it is exact across restarts and shapes.
  // Embargoed laws are left out until they close: /metrics must not leak what /results withholds.
  const core::Timestamp now = Now();
  for (const auto& law : config_.ballot.laws()) {
    if (!law.ResultsVisible(now)) continue;
    auto tally = config_.queries.FindTally(law.id);
    if (!tally) continue;  // keep the last value; the scrape still succeeds
    config_.metrics.votes_by_law.WithLabels({law.id, "oui"}).Set(static_cast<double>(tally->oui));
    config_.metrics.votes_by_law.WithLabels({law.id, "non"}).Set(static_cast<double>(tally->non));
  }
  Response r;
  r.content_type = metrics::Registry::kContentType;
  r.body = config_.metrics.registry.Render();
  r.AddHeader("Cache-Control", "no-store");
  ex.Send(std::move(r));
}

void Api::HandleStatic(Exchange& ex, std::string_view path) {
  const StaticFiles::File* file = files_.Find(path);
  if (file == nullptr) return ex.Send(NotFound("There is no page at this address."));
  Response r;
  r.AddHeader("ETag", file->etag);
  // Files change only with a deployment: let browsers keep them but revalidate each time.
  r.AddHeader("Cache-Control", "no-cache");
  r.AddHeader("X-Content-Type-Options", "nosniff");
  if (file->content_type.starts_with("text/html")) r.AddHeader("X-Frame-Options", "DENY");
  std::string_view inm = Sv(ex.request[bhttp::field::if_none_match]);
  if (!inm.empty() && inm.find(file->etag) != std::string_view::npos) {
    r.status = 304;
    r.content_type = {};
    return ex.Send(std::move(r));
  }
  r.content_type = file->content_type;
  r.body = file->body;
  ex.Send(std::move(r));
}

}  // namespace scrutin::http

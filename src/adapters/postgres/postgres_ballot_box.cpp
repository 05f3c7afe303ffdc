#include "adapters/postgres/postgres_ballot_box.hpp"

#include <fmt/format.h>

#include <optional>
#include <vector>

#include "adapters/postgres/pg_array.hpp"
#include "core/digest.hpp"

namespace scrutin::postgres {
namespace {

using Params = std::vector<std::optional<std::string>>;

// The advisory lock's first key ("MIXR"); the second is the law's (and schema's) hash.
constexpr int kMixLockClass = 0x4d495852;

constexpr std::string_view kLockLaw =
    "SELECT pg_advisory_xact_lock($1::integer, hashtext(current_schema() || '/' || $2))";
constexpr std::string_view kHasRecord = "SELECT count(*) FROM records WHERE law_id = $1";
constexpr std::string_view kFindRecord = "SELECT record, receipts FROM records WHERE law_id = $1";
// Not when the admin port moved the close elsewhere since the mixer looked.
constexpr std::string_view kSaveRecord =
    "INSERT INTO records (law_id, record, receipts) SELECT $1, $2, $3 WHERE NOT EXISTS "
    "(SELECT 1 FROM law_schedule WHERE law_id = $1 AND closes_at <> $4::timestamptz) "
    "ON CONFLICT (law_id) DO NOTHING";
// Each count from its own table: statuses, claims, ballots, receipts, the tally.
constexpr std::string_view kRecordCounts =
    "SELECT (SELECT count(*) FROM request_status WHERE law_id = $1 AND status = 'accepted'), "
    "(SELECT count(*) FROM accepted_credentials WHERE law_id = $1), "
    "(SELECT count(*) FROM ballots WHERE law_id = $1), "
    "(SELECT count(*) FROM receipts WHERE law_id = $1), "
    "coalesce((SELECT oui_count FROM vote_results WHERE law_id = $1), 0), "
    "coalesce((SELECT non_count FROM vote_results WHERE law_id = $1), 0)";
// Bytewise order (COLLATE "C"), whatever the database's collation: the record's list is sorted so.
constexpr std::string_view kLawReceipts =
    "SELECT coalesce(string_agg(receipt || E'\\n', '' ORDER BY receipt COLLATE \"C\"), ''), "
    "count(*) FROM receipts WHERE law_id = $1";
constexpr std::string_view kCountSealed = "SELECT count(*) FROM sealed_ballots WHERE law_id = $1";
constexpr std::string_view kTakeSealed =
    "DELETE FROM sealed_ballots WHERE id IN ("
    "SELECT id FROM sealed_ballots WHERE law_id = $1 ORDER BY id LIMIT $2::bigint) "
    "RETURNING encode(sealed, 'hex')";
// WITH ORDINALITY ... ORDER BY: the rows go in the mixer's (shuffled) order.
constexpr std::string_view kInsertBallots =
    "INSERT INTO ballots (law_id, choice) "
    "SELECT $1, c FROM unnest($2::text[]) WITH ORDINALITY AS t(c, i) ORDER BY i";
constexpr std::string_view kInsertReceipts =
    "INSERT INTO receipts (receipt, law_id) "
    "SELECT r, $1 FROM unnest($2::text[]) WITH ORDINALITY AS t(r, i) ORDER BY i";
constexpr std::string_view kMoveTally =
    "UPDATE vote_results SET oui_count = oui_count + $2::bigint, "
    "non_count = non_count + $3::bigint, groups = groups + 1, "
    "smallest_group = CASE WHEN groups = 0 THEN $4::bigint "
    "ELSE LEAST(smallest_group, $4::bigint) END, updated_at = now() WHERE law_id = $1";
constexpr std::string_view kCounts =
    "SELECT (SELECT count(*) FROM sealed_ballots WHERE law_id = $1), "
    "(SELECT count(*) FROM ballots WHERE law_id = $1), "
    "(SELECT count(*) FROM receipts WHERE law_id = $1), "
    "coalesce((SELECT groups FROM vote_results WHERE law_id = $1), 0), "
    "coalesce((SELECT smallest_group FROM vote_results WHERE law_id = $1), 0)";

// One mix on `conn`: how many ballots it mixed, 0 when the rule does not allow one. A failure of
// the statements is the PgError; one of the ballots or of `open` is left in open_error. The
// caller rolls back on either.
core::Result<ports::MixResult, PgError> MixOnce(PgConnection& conn, const std::string& law_id,
                                           ports::MixRule rule,
                                           const ports::BallotBox::Opener& open,
                                           core::Status& open_error) {
  if (auto r = conn.ExecScript("BEGIN"); !r) return core::Fail(r.error());
  if (auto r = conn.Exec(kLockLaw, Params{std::to_string(kMixLockClass), law_id}); !r) {
    return core::Fail(r.error());
  }
  auto has_record = conn.Exec(kHasRecord, Params{law_id});
  if (!has_record) return core::Fail(has_record.error());
  if (has_record->Int(0, 0) > 0) {
    if (auto r = conn.ExecScript("ROLLBACK"); !r) return core::Fail(r.error());
    return ports::MixResult{.record_sealed = true};
  }
  auto counted = conn.Exec(kCountSealed, Params{law_id});
  if (!counted) return core::Fail(counted.error());
  const auto waiting = static_cast<std::size_t>(counted->Int(0, 0));
  const std::size_t take = ports::GroupSize(rule, waiting);
  if (take == 0) {
    if (auto r = conn.ExecScript("ROLLBACK"); !r) return core::Fail(r.error());
    return ports::MixResult{0, waiting};
  }
  auto taken = conn.Exec(kTakeSealed, Params{law_id, std::to_string(take)});
  if (!taken) return core::Fail(taken.error());
  std::vector<core::SealedBallot> sealed(static_cast<std::size_t>(taken->rows()));
  for (int row = 0; row < taken->rows(); ++row) {
    const std::string_view hex = taken->Text(row, 0);
    auto& out = sealed[static_cast<std::size_t>(row)];
    if (hex.size() != 2 * out.size() || !core::HexDecode(hex, out.data(), out.size())) {
      open_error = core::Fail(core::ErrorCode::kCorrupt,
                              std::string("a sealed ballot in PostgreSQL is not 49 bytes"));
      return ports::MixResult{0, waiting};
    }
  }
  auto group = open(sealed);
  if (!group) {
    open_error = core::Fail(group.code(), group.error());
    return ports::MixResult{0, waiting};
  }
  PgArrayLiteral choices, receipts;
  std::int64_t oui = 0, non = 0;
  for (core::Choice c : group->choices) {
    choices.Add(core::ToString(c));
    ++(c == core::Choice::kOui ? oui : non);
  }
  for (const auto& r : group->receipts) receipts.Add(r);
  if (auto r = conn.Exec(kInsertBallots, Params{law_id, choices.Take()}); !r) {
    return core::Fail(r.error());
  }
  if (auto r = conn.Exec(kInsertReceipts, Params{law_id, receipts.Take()}); !r) {
    return core::Fail(r.error());
  }
  const std::string size = std::to_string(sealed.size());
  if (auto r = conn.Exec(kMoveTally,
                         Params{law_id, std::to_string(oui), std::to_string(non), size});
      !r) {
    return core::Fail(r.error());
  }
  if (auto r = conn.ExecScript("COMMIT"); !r) return core::Fail(r.error());
  return ports::MixResult{sealed.size(), waiting};
}

}  // namespace

core::Result<ports::MixResult> PostgresBallotBox::Mix(const std::string& law_id,
                                                      ports::MixRule rule, const Opener& open) {
  // Tried again once on a fresh connection when the pooled one turns out to be dead (a server
  // restart leaves every idle connection broken): nothing was committed on it.
  core::Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto lease = pool_->Acquire(/*verify=*/attempt > 0);
    if (!lease) {
      return core::Fail(core::ErrorCode::kUnavailable,
                        fmt::format("cannot mix ballots: {}", lease.error()));
    }
    core::Status open_error;
    auto mixed = MixOnce(**lease, law_id, rule, open, open_error);
    if (mixed && open_error) return *mixed;
    if (!mixed && mixed.error().connection_lost) {
      lease->Discard();
      last = core::Fail(CodeOf(mixed.error()), ToStatus("cannot mix ballots", mixed.error()).error());
      continue;
    }
    (void)(*lease)->ExecScript("ROLLBACK");
    if (!mixed) {
      return core::Fail(CodeOf(mixed.error()), ToStatus("cannot mix ballots", mixed.error()).error());
    }
    return core::Fail(open_error.code(), open_error.error());
  }
  return core::Fail(last.code(), last.error());
}

core::Result<ports::BoxCounts> PostgresBallotBox::Counts(const std::string& law_id) {
  auto lease = pool_->Acquire();
  if (!lease) {
    return core::Fail(core::ErrorCode::kUnavailable,
                      fmt::format("cannot count ballots: {}", lease.error()));
  }
  auto res = (*lease)->Exec(kCounts, Params{law_id});
  if (!res) {
    if (res.error().connection_lost) lease->Discard();
    return core::Fail(CodeOf(res.error()), ToStatus("cannot count ballots", res.error()).error());
  }
  ports::BoxCounts c;
  c.sealed = static_cast<std::uint64_t>(res->Int(0, 0));
  c.ballots = static_cast<std::uint64_t>(res->Int(0, 1));
  c.receipts = static_cast<std::uint64_t>(res->Int(0, 2));
  c.groups = static_cast<std::uint64_t>(res->Int(0, 3));
  c.smallest_group = static_cast<std::uint64_t>(res->Int(0, 4));
  return c;
}

namespace {

// Runs `body` on a pooled connection, once more on a fresh one when the pooled one turns out to be
// dead (nothing was committed on it); rolls back whatever `body` left open on failure.
template <typename T, typename Body>
core::Result<T> WithConnection(PgPool& pool, std::string_view what, Body body) {
  core::Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto lease = pool.Acquire(/*verify=*/attempt > 0);
    if (!lease) {
      return core::Fail(core::ErrorCode::kUnavailable, fmt::format("{}: {}", what, lease.error()));
    }
    core::Result<T, PgError> r = body(**lease);
    if (r) return std::move(*r);
    last = ToStatus(what, r.error());
    if (r.error().connection_lost) {
      lease->Discard();
      continue;
    }
    (void)(*lease)->ExecScript("ROLLBACK");
    break;
  }
  return core::Fail(last.code(), last.error());
}

}  // namespace

core::Result<std::optional<core::PublishedRecord>> PostgresBallotBox::FindRecord(
    const std::string& law_id) {
  return WithConnection<std::optional<core::PublishedRecord>>(
      *pool_, "cannot read the record",
      [&](PgConnection& conn) -> core::Result<std::optional<core::PublishedRecord>, PgError> {
        auto res = conn.Exec(kFindRecord, Params{law_id});
        if (!res) return core::Fail(res.error());
        if (res->rows() == 0) return std::optional<core::PublishedRecord>();
        return std::optional<core::PublishedRecord>(core::PublishedRecord{
            std::string(res->Text(0, 0)), std::string(res->Text(0, 1))});
      });
}

core::Result<ports::RecordSource> PostgresBallotBox::ReadRecordSource(const std::string& law_id) {
  return WithConnection<ports::RecordSource>(
      *pool_, "cannot read the record's counts",
      [&](PgConnection& conn) -> core::Result<ports::RecordSource, PgError> {
        // One snapshot for every count and the receipts list.
        if (auto r = conn.ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) {
          return core::Fail(r.error());
        }
        auto counts = conn.Exec(kRecordCounts, Params{law_id});
        if (!counts) return core::Fail(counts.error());
        auto receipts = conn.Exec(kLawReceipts, Params{law_id});
        if (!receipts) return core::Fail(receipts.error());
        if (auto r = conn.ExecScript("COMMIT"); !r) return core::Fail(r.error());
        auto n = [&](int i) { return static_cast<std::uint64_t>(counts->Int(0, i)); };
        ports::RecordSource out;
        out.counts = {.accepted = n(0), .claims = n(1), .ballots = n(2), .receipts = n(3),
                      .tallied = n(4) + n(5)};
        out.oui = n(4);
        out.non = n(5);
        out.receipts_text = std::string(receipts->Text(0, 0));
        out.receipt_lines = static_cast<std::uint64_t>(receipts->Int(0, 1));
        return out;
      });
}

core::Result<std::optional<core::PublishedRecord>> PostgresBallotBox::SaveRecord(
    const std::string& law_id, core::Timestamp closes_at, const core::PublishedRecord& record) {
  using Out = std::optional<core::PublishedRecord>;
  return WithConnection<Out>(
      *pool_, "cannot store the record", [&](PgConnection& conn) -> core::Result<Out, PgError> {
        // The mix lock: no mix of this law is between its count and its commit while the record
        // is stored, and none starts after (Mix() checks for the record under the same lock);
        // LawSchedule::Set takes it too, so a close moved concurrently is seen here or refused
        // there.
        if (auto r = conn.ExecScript("BEGIN"); !r) return core::Fail(r.error());
        if (auto r = conn.Exec(kLockLaw, Params{std::to_string(kMixLockClass), law_id}); !r) {
          return core::Fail(r.error());
        }
        if (auto r = conn.Exec(kSaveRecord, Params{law_id, record.record, record.receipts,
                                                   core::FormatTimestamp(closes_at)});
            !r) {
          return core::Fail(r.error());
        }
        auto res = conn.Exec(kFindRecord, Params{law_id});
        if (!res) return core::Fail(res.error());
        if (auto r = conn.ExecScript("COMMIT"); !r) return core::Fail(r.error());
        if (res->rows() == 0) return Out();  // the close was moved
        return Out(core::PublishedRecord{std::string(res->Text(0, 0)),
                                         std::string(res->Text(0, 1))});
      });
}

core::Result<std::vector<ports::ScheduledClose>> PostgresLawSchedule::Load() {
  using Out = std::vector<ports::ScheduledClose>;
  auto rows = WithConnection<PgResult>(
      *pool_, "cannot read the schedule", [&](PgConnection& conn) -> core::Result<PgResult, PgError> {
        return conn.Exec(
            "SELECT law_id, to_char(closes_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM law_schedule ORDER BY law_id",
            Params{});
      });
  if (!rows) return core::Fail(rows.code(), rows.error());
  Out out;
  for (int i = 0; i < rows->rows(); ++i) {
    auto at = core::ParseTimestamp(rows->Text(i, 1));
    if (!at) {
      return core::Fail(core::ErrorCode::kCorrupt,
                        fmt::format("law_schedule holds a malformed time for {}", rows->Text(i, 0)));
    }
    out.push_back({std::string(rows->Text(i, 0)), *at});
  }
  return out;
}

core::Status PostgresLawSchedule::Set(const std::string& law_id, ports::AdminAction action,
                                      core::Timestamp previous, core::Timestamp closes_at) {
  bool sealed = false;
  auto done = WithConnection<bool>(
      *pool_, "cannot change the schedule", [&](PgConnection& conn) -> core::Result<bool, PgError> {
        if (auto r = conn.ExecScript("BEGIN"); !r) return core::Fail(r.error());
        if (auto r = conn.Exec(kLockLaw, Params{std::to_string(kMixLockClass), law_id}); !r) {
          return core::Fail(r.error());
        }
        auto has = conn.Exec(kHasRecord, Params{law_id});
        if (!has) return core::Fail(has.error());
        if (has->Int(0, 0) > 0) {
          sealed = true;
          if (auto r = conn.ExecScript("ROLLBACK"); !r) return core::Fail(r.error());
          return false;
        }
        const std::string at = core::FormatTimestamp(closes_at);
        if (auto r = conn.Exec("INSERT INTO law_schedule (law_id, closes_at) "
                               "VALUES ($1, $2::timestamptz) ON CONFLICT (law_id) DO UPDATE "
                               "SET closes_at = excluded.closes_at, changed_at = now()",
                               Params{law_id, at});
            !r) {
          return core::Fail(r.error());
        }
        if (auto r = conn.Exec("INSERT INTO admin_audit (action, law_id, previous_closes_at, "
                               "closes_at) VALUES ($1, $2, $3::timestamptz, $4::timestamptz)",
                               Params{ports::ToString(action), law_id,
                                      core::FormatTimestamp(previous), at});
            !r) {
          return core::Fail(r.error());
        }
        if (auto r = conn.ExecScript("COMMIT"); !r) return core::Fail(r.error());
        return true;
      });
  if (!done) return core::Fail(done.code(), done.error());
  if (sealed) {
    return core::Fail(core::ErrorCode::kRefused,
                      "the record of " + law_id + " is sealed: its close cannot move");
  }
  return {};
}

}  // namespace scrutin::postgres

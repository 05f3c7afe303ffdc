#include "adapters/postgres/postgres_audit.hpp"

#include <fmt/format.h>

namespace scrutin::postgres {
namespace {

constexpr int kFetchRows = 10000;

// Runs `query` under a cursor in a read-only REPEATABLE READ transaction and hands every row to
// on_row. The transaction is rolled back however it ends (it changed nothing).
core::Status StreamRows(PgPool& pool, std::string_view query, std::string_view what,
                        const std::function<core::Status(const PgResult&, int row)>& on_row) {
  auto lease = pool.Acquire();
  if (!lease) return core::Fail(fmt::format("{}: {}", what, lease.error()));
  PgConnection& conn = **lease;
  auto run = [&]() -> core::Status {
    if (auto r = conn.ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) {
      return ToStatus(what, r.error());
    }
    if (auto r =
            conn.ExecScript(fmt::format("DECLARE scrutin_audit NO SCROLL CURSOR FOR {}", query));
        !r) {
      return ToStatus(what, r.error());
    }
    const std::string fetch = fmt::format("FETCH FORWARD {} FROM scrutin_audit", kFetchRows);
    for (;;) {
      auto rows = conn.ExecScript(fetch);
      if (!rows) return ToStatus(what, rows.error());
      for (int i = 0; i < rows->rows(); ++i) {
        if (auto st = on_row(*rows, i); !st) return st;
      }
      if (rows->rows() < kFetchRows) return {};
    }
  };
  core::Status st = run();
  (void)conn.ExecScript("ROLLBACK");
  return st;
}

}  // namespace

core::Status ForEachAcceptedInAudit(PgPool& pool,
                                    const std::function<core::Status(const core::Digest&)>& fn) {
  return StreamRows(
      pool,
      "SELECT DISTINCT vote_hash FROM vote_audit WHERE status = 'accepted' ORDER BY vote_hash",
      "cannot read the audit trail", [&](const PgResult& rows, int i) -> core::Status {
        auto digest = core::Digest::FromHex(rows.Text(i, 0));
        if (!digest) return core::Fail(std::string("vote_audit holds a malformed digest"));
        return fn(*digest);
      });
}

core::Status ForEachAcceptedCredential(
    PgPool& pool,
    const std::function<core::Status(const core::Digest&, std::string_view, std::string_view)>&
        fn) {
  return StreamRows(
      pool, "SELECT vote_hash, law_id, claim_tag FROM accepted_credentials ORDER BY vote_hash",
      "cannot read the accepted credentials", [&](const PgResult& rows, int i) -> core::Status {
        auto digest = core::Digest::FromHex(rows.Text(i, 0));
        if (!digest)
          return core::Fail(std::string("accepted_credentials holds a malformed digest"));
        return fn(*digest, rows.Text(i, 1), rows.Text(i, 2));
      });
}

core::Result<std::map<std::string, BallotRecount>> RecountBallots(PgPool& pool) {
  auto lease = pool.Acquire();
  if (!lease) return core::Fail("cannot recount the ballots: " + lease.error());
  auto res = (*lease)->ExecScript(
      "SELECT law_id, count(*) FILTER (WHERE choice = 'oui'), "
      "count(*) FILTER (WHERE choice = 'non') FROM ballots GROUP BY law_id");
  if (!res) return core::Fail(ToStatus("cannot recount the ballots", res.error()).error());
  std::map<std::string, BallotRecount> out;
  for (int i = 0; i < res->rows(); ++i) {
    out[std::string(res->Text(i, 0))] = BallotRecount{res->Int(i, 1), res->Int(i, 2)};
  }
  return out;
}

}  // namespace scrutin::postgres

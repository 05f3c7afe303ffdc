#include "adapters/postgres/postgres_audit.hpp"

#include <fmt/format.h>

#include "adapters/postgres/pg_cursor.hpp"

namespace scrutin::postgres {

core::Status ForEachAcceptedInAudit(PgPool& pool,
                                    const std::function<core::Status(const core::Digest&)>& fn) {
  return StreamRows(
      pool,
      "SELECT DISTINCT vote_hash FROM vote_audit WHERE status = 'accepted' ORDER BY vote_hash",
      "cannot read the audit trail", [&](const PgResult& rows, int i) -> core::Status {
        auto digest = core::Digest::FromHex(rows.Text(i, 0));
        if (!digest) {
          return core::Fail(core::ErrorCode::kCorrupt,
                            std::string("vote_audit holds a malformed digest"));
        }
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
          return core::Fail(core::ErrorCode::kCorrupt,
                            std::string("accepted_credentials holds a malformed digest"));
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

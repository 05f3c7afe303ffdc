#include "adapters/postgres/postgres_ledger_source.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

#include "adapters/postgres/pg_cursor.hpp"

namespace scrutin::postgres {
namespace {

// Byte order of the hex digests (COLLATE "C": a locale's collation need not order hex as bytes),
// and the audit's attempts counted in one grouped pass instead of one lookup per claim.
constexpr std::string_view kClaimsQuery =
    "SELECT a.vote_hash, a.law_id, a.claim_tag, coalesce(c.n, 0) "
    "FROM accepted_credentials a "
    "LEFT JOIN (SELECT vote_hash, count(*) AS n FROM vote_audit "
    "           WHERE status IN ('accepted', 'duplicate') GROUP BY vote_hash) c "
    "ON c.vote_hash = a.vote_hash "
    "ORDER BY a.vote_hash COLLATE \"C\"";

constexpr std::string_view kStatusesQuery =
    "SELECT status_key, law_id, status, attempt_count, "
    "(extract(epoch FROM expires_at) * 1000)::bigint "
    "FROM request_status WHERE expires_at > now()";

std::uint32_t ToAttempts(std::int64_t n) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(n, 1, std::numeric_limits<std::uint32_t>::max()));
}

}  // namespace

core::Status ForEachRecordedClaim(PgPool& pool,
                                  const std::function<core::Status(const RecordedClaim&)>& fn) {
  return StreamRows(pool, kClaimsQuery, "cannot read the accepted credentials",
                    [&](const PgResult& rows, int i) -> core::Status {
                      auto digest = core::Digest::FromHex(rows.Text(i, 0));
                      if (!digest) {
                        return core::Fail(core::ErrorCode::kCorrupt,
                                          std::string("accepted_credentials holds a malformed "
                                                      "digest"));
                      }
                      RecordedClaim claim;
                      claim.digest = *digest;
                      claim.law_id = rows.Text(i, 1);
                      claim.claim_tag = rows.Text(i, 2);
                      claim.attempts = ToAttempts(rows.Int(i, 3));
                      return fn(claim);
                    });
}

core::Status ForEachRecordedStatus(PgPool& pool,
                                   const std::function<core::Status(const RecordedStatus&)>& fn) {
  return StreamRows(
      pool, kStatusesQuery, "cannot read the request statuses",
      [&](const PgResult& rows, int i) -> core::Status {
        auto status = core::ParseVoteStatus(rows.Text(i, 2));
        if (!status) {
          return core::Fail(core::ErrorCode::kCorrupt, "request_status holds an unknown status '" +
                                                           std::string(rows.Text(i, 2)) + "'");
        }
        RecordedStatus record;
        record.status_key = rows.Text(i, 0);
        record.law_id = rows.Text(i, 1);
        record.status = *status;
        record.attempt_count = static_cast<std::uint32_t>(
            std::clamp<std::int64_t>(rows.Int(i, 3), 0, std::numeric_limits<std::uint32_t>::max()));
        record.expires_at = core::Timestamp(std::chrono::milliseconds(rows.Int(i, 4)));
        return fn(record);
      });
}

}  // namespace scrutin::postgres

// Audit reads over the distributed shape's PostgreSQL database: the disaster-recovery path of
// guarantee 5 (the voted set rebuilt from vote_audit alone), the voted set as recorded, and a
// recount of the ballots (guarantee 4: tallies are recomputable from ballots).
//
// The set readers stream through a server-side cursor in one read-only snapshot, a bounded
// number of rows at a time, so 8 million digests never sit in memory at once.
// Private to src/adapters/postgres: other modules use its public headers.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "adapters/postgres/pg_pool.hpp"
#include "core/digest.hpp"
#include "core/result.hpp"

namespace scrutin::postgres {

// Calls fn once per distinct digest that vote_audit records as accepted
// (SELECT DISTINCT vote_hash FROM vote_audit WHERE status = 'accepted'), in digest order.
// Stops at fn's first error and returns it. Errors: database unreachable, a malformed digest.
core::Status ForEachAcceptedInAudit(PgPool& pool,
                                    const std::function<core::Status(const core::Digest&)>& fn);

// Calls fn for every row of accepted_credentials (the voted set), in digest order.
core::Status ForEachAcceptedCredential(
    PgPool& pool, const std::function<core::Status(const core::Digest&, std::string_view law_id,
                                                   std::string_view claim_tag)>& fn);

// Ballots counted per law: law_id -> {oui, non}.
struct BallotRecount {
  std::int64_t oui = 0;
  std::int64_t non = 0;
};
core::Result<std::map<std::string, BallotRecount>> RecountBallots(PgPool& pool);

}  // namespace scrutin::postgres

// What `scrutin ledger rebuild` reads from PostgreSQL, the record of the distributed shape, to
// restore the credential ledger and the request statuses in Redis after Redis lost them.
//
// Both readers stream through a server-side cursor in one read-only snapshot each
// (pg_cursor.hpp), a bounded number of rows at a time: 8 million claims never sit in memory at
// once. The pool should have no statement timeout (the claims' first FETCH sorts and joins the
// whole voted set).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "adapters/postgres/pg_pool.hpp"
#include "core/digest.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::postgres {

// One row of accepted_credentials with the attempts the audit holds for its digest.
struct RecordedClaim {
  core::Digest digest;
  std::string_view law_id;
  std::string_view claim_tag;  // 32 lowercase hex characters (core::ClaimTag)
  // vote_audit rows of this digest with status accepted or duplicate (what the ledger counts as
  // attempts: every attempt made while the credential was eligible), at least 1.
  std::uint32_t attempts = 1;
};

// Calls fn for every row of accepted_credentials in ascending digest order (byte order, whatever
// the database's collation). The views inside the argument are valid during the call only. Stops
// at fn's first error and returns it. Errors: database unreachable (kUnavailable), a malformed
// digest (kCorrupt), the server's message otherwise.
core::Status ForEachRecordedClaim(PgPool& pool,
                                  const std::function<core::Status(const RecordedClaim&)>& fn);

// One row of request_status that has not expired.
struct RecordedStatus {
  std::string_view status_key;  // core::StatusKey(request id), 32 lowercase hex characters
  std::string_view law_id;
  core::VoteStatus status = core::VoteStatus::kPending;
  std::uint32_t attempt_count = 0;
  core::Timestamp expires_at;
};

// Calls fn for every row of request_status whose expires_at is still ahead, in no particular
// order. Views valid during the call only; stops at fn's first error. Errors as above (a status
// the schema does not know: kCorrupt).
core::Status ForEachRecordedStatus(PgPool& pool,
                                   const std::function<core::Status(const RecordedStatus&)>& fn);

}  // namespace scrutin::postgres

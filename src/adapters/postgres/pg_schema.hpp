// The PostgreSQL schema of the distributed shape (docs/schema.md) and its versioned migrations.
//
// Every process that uses the database (aggregator, api) calls Migrate() at start: it applies the
// migrations this binary knows and the database lacks, in order, each recorded in
// schema_migrations, all in one transaction under an advisory lock keyed by the schema's name,
// so processes starting together neither race nor half-apply. A database whose schema is newer
// than this binary knows is refused (an old binary must not write into a schema it does not
// understand).
#pragma once

#include <span>
#include <string_view>

#include "adapters/postgres/pg_pool.hpp"
#include "core/ballot.hpp"
#include "core/result.hpp"

namespace scrutin::postgres {

struct Migration {
  int version;                   // 1, 2, ... without gaps
  std::string_view description;  // recorded beside the version
  std::string_view sql;          // run as one script
};

// The migrations this binary knows, in version order.
std::span<const Migration> KnownMigrations();
// The version the database has after Migrate(): the last of KnownMigrations().
int LatestSchemaVersion();

// Brings the schema up to LatestSchemaVersion(). Idempotent; safe to run concurrently from
// several processes. Errors: database unreachable, a migration failing (nothing of it is
// applied), the database at a newer version than this binary knows.
core::Status Migrate(PgPool& pool);
// The same with an explicit list (tests use it to simulate a newer binary).
core::Status Migrate(PgPool& pool, std::span<const Migration> migrations);

// The version recorded in schema_migrations (0 when the table does not exist yet).
core::Result<int> CurrentSchemaVersion(PgPool& pool);

// Ensures vote_results has a row per law on the ballot, so results read zeroes before the first
// vote. Never changes an existing row. Idempotent.
core::Status SeedTallies(PgPool& pool, const core::Ballot& ballot);

}  // namespace scrutin::postgres

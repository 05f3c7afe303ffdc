// The embedded store's schema (docs/schema.md) and its migration, and the scrutin_meta key/value
// table. Used by SqliteElectionStore::Open on its set-up connection, before any other thread
// touches the file.
// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <string>
#include <string_view>

#include "adapters/sqlite/sqlite_db.hpp"
#include "core/result.hpp"

namespace scrutin::adapters::sqlite {

// Creates the schema in an empty database, accepts one at kSchemaVersion, and refuses a newer
// one (upgrade scrutin) or a pre-release one (use a new data directory), with a clear message.
core::Status Migrate(Connection& conn);

// The value recorded under `key` in scrutin_meta, or "" when there is none.
core::Result<std::string> ReadMeta(Connection& conn, std::string_view key);
// Records (or replaces) the value under `key` in scrutin_meta.
core::Status WriteMeta(Connection& conn, std::string_view key, std::string_view value);

}  // namespace scrutin::adapters::sqlite

// StreamRows: a query's rows handed over a bounded number at a time, through a server-side cursor
// in one read-only REPEATABLE READ snapshot, so that reading millions of rows (the audit, the voted
// set) never holds them all in memory. Shared by the audit readers and the ledger source.
// Private to src/adapters/postgres: other modules use its public headers.
#pragma once

#include <functional>
#include <string_view>

#include "adapters/postgres/pg_pool.hpp"
#include "core/result.hpp"

namespace scrutin::postgres {

// Runs `query` under a cursor on one connection of `pool` and calls on_row(rows, i) for every row,
// `fetch_rows` rows per FETCH. Stops at on_row's first error and returns it. The transaction is
// rolled back however it ends (it changed nothing). Errors from the database are
// "<what>: <server message>", kUnavailable when the connection could not be had or was lost.
// Blocks on the database; one caller per pool connection.
core::Status StreamRows(PgPool& pool, std::string_view query, std::string_view what,
                        const std::function<core::Status(const PgResult&, int row)>& on_row,
                        int fetch_rows = 10000);

}  // namespace scrutin::postgres

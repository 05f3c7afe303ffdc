#include "adapters/postgres/pg_cursor.hpp"

#include <fmt/format.h>

namespace scrutin::postgres {

core::Status StreamRows(PgPool& pool, std::string_view query, std::string_view what,
                        const std::function<core::Status(const PgResult&, int row)>& on_row,
                        int fetch_rows) {
  auto lease = pool.Acquire();
  if (!lease) {
    return core::Fail(core::ErrorCode::kUnavailable, fmt::format("{}: {}", what, lease.error()));
  }
  PgConnection& conn = **lease;
  auto run = [&]() -> core::Status {
    if (auto r = conn.ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) {
      return ToStatus(what, r.error());
    }
    if (auto r =
            conn.ExecScript(fmt::format("DECLARE scrutin_stream NO SCROLL CURSOR FOR {}", query));
        !r) {
      return ToStatus(what, r.error());
    }
    const std::string fetch = fmt::format("FETCH FORWARD {} FROM scrutin_stream", fetch_rows);
    for (;;) {
      auto rows = conn.ExecScript(fetch);
      if (!rows) return ToStatus(what, rows.error());
      for (int i = 0; i < rows->rows(); ++i) {
        if (auto st = on_row(*rows, i); !st) return st;
      }
      if (rows->rows() < fetch_rows) return {};
    }
  };
  core::Status st = run();
  (void)conn.ExecScript("ROLLBACK");
  return st;
}

}  // namespace scrutin::postgres

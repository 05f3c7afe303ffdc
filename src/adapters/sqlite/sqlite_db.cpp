#include "adapters/sqlite/sqlite_db.hpp"

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace scrutin::adapters::sqlite {

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = o.stmt_;
    o.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Statement& Statement::BindBlob(int i, const void* data, std::size_t size) {
  sqlite3_bind_blob(stmt_, i, data, static_cast<int>(size), SQLITE_TRANSIENT);
  return *this;
}

namespace {

// What a failed step means to the caller: the file is damaged (retrying will not help), or the
// disk or the lock is unavailable for now (full, I/O error, busy).
core::ErrorCode CodeOf(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
      return core::ErrorCode::kCorrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
      return core::ErrorCode::kUnavailable;
    default:
      return core::ErrorCode::kUnknown;
  }
}

}  // namespace

core::Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return core::Fail(CodeOf(rc),
                    fmt::format("sqlite: {} ({})", sqlite3_errmsg(db_), sqlite3_errstr(rc)));
}

core::Status Statement::Run() {
  auto r = Step();
  Reset();
  if (!r) return core::Fail(r.code(), r.error());
  return {};
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string_view Statement::Text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string_view(p, sqlite3_column_bytes(stmt_, col)) : std::string_view();
}

namespace {

// SQLite's default busy handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, 15, 20, 25, 25,
// 25, 50... ms between attempts, so a lock held for 19 ms costs its waiter 33 ms, and one held for
// 50 ms costs 78 ms: the embedded writer waiting on a WAL checkpoint pays for the schedule, not for
// the lock (its stalls are exactly those sums: bench/RESULTS.md, "the open-loop tail found and
// fixed"). This one retries every 100 µs for the first 50 ms, then every millisecond, and gives up
// (SQLITE_BUSY) after about 5 s.
int WaitBriefly(void*, int attempts) {
  constexpr int kFineAttempts = 500;        // 500 x 100 µs = 50 ms
  constexpr int kMaxAttempts = 500 + 4950;  // + 4950 x 1 ms: about 5 s in all
  if (attempts >= kMaxAttempts) return 0;
  std::this_thread::sleep_for(attempts < kFineAttempts ? std::chrono::microseconds(100)
                                                       : std::chrono::milliseconds(1));
  return 1;
}

}  // namespace

core::Result<Connection> Connection::Open(const std::filesystem::path& path, Mode mode) {
  sqlite3* db = nullptr;
  int flags =
      SQLITE_OPEN_NOMUTEX |
      (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return core::Fail(fmt::format("cannot open database {}: {}", path.string(), msg));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_handler(db, &WaitBriefly, nullptr);
  return Connection(db);
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    sqlite3_close(db_);
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}

Connection::~Connection() { sqlite3_close(db_); }

core::Status Connection::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return core::Fail("sqlite: " + msg);
  }
  return {};
}

core::Result<Statement> Connection::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return core::Fail(fmt::format("sqlite: cannot prepare statement: {}", sqlite3_errmsg(db_)));
  }
  return Statement(db_, stmt);
}

}  // namespace scrutin::adapters::sqlite

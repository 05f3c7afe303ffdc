// A thin RAII layer over the SQLite C API: a connection, prepared statements, and errors turned
// into core::Status values carrying SQLite's own message.
// Private to src/adapters/sqlite: other modules use its public headers.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace scrutin::adapters::sqlite {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based. Text and blobs are copied (SQLITE_TRANSIENT) unless noted.
  Statement& Bind(int i, std::string_view text);
  Statement& Bind(int i, std::int64_t v);
  Statement& BindBlob(int i, const void* data, std::size_t size);

  // SQLITE_ROW: true; SQLITE_DONE: false; an error otherwise.
  core::Result<bool> Step();
  // Runs to completion (for statements returning no rows), then resets.
  core::Status Run();
  void Reset();

  std::int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string_view Text(int col) const;
  // The column's bytes (valid until the next Step, Reset or destruction).
  std::string_view Blob(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    const int size = sqlite3_column_bytes(stmt_, col);
    return data ? std::string_view(static_cast<const char*>(data), static_cast<std::size_t>(size))
                : std::string_view();
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Connection {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  static core::Result<Connection> Open(const std::filesystem::path& path, Mode mode);
  Connection(Connection&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  core::Status Exec(std::string_view sql);
  core::Result<Statement> Prepare(std::string_view sql);
  // Number of rows changed by the last statement.
  int Changes() const { return sqlite3_changes(db_); }
  std::string ErrorMessage() const { return sqlite3_errmsg(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

}  // namespace scrutin::adapters::sqlite

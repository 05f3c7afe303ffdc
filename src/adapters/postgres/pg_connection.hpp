// PgConnection: one libpq connection to PostgreSQL, used by one thread at a time, with queries
// whose failures are values (PgError) that keep the server's SQLSTATE, so callers can tell a
// deadlock (retry the transaction) from a lost connection (drop it, take another) from a bug.
//
// Every parameter and result travels in libpq's text format. Error messages come from the server
// or from libpq and never contain the connection's password: PgConnection::Open scrubs it from
// every message it builds, and server messages do not carry it.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace scrutin::postgres {

struct PgError {
  std::string message;   // one line for the operator, e.g. "duplicate key value violates ..."
  std::string sqlstate;  // five characters when the server sent one, else empty
  bool connection_lost = false;  // the connection is unusable (server gone, backend killed)

  // 40P01 deadlock_detected or 40001 serialization_failure: the transaction was rolled back and
  // running it again may succeed.
  bool retryable_transaction() const { return sqlstate == "40P01" || sqlstate == "40001"; }
};

// A query's result rows, owned (PQclear on destruction). Values are text; NULL reads as "".
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* res) : res_(res) {}

  int rows() const { return res_ ? PQntuples(res_.get()) : 0; }
  int columns() const { return res_ ? PQnfields(res_.get()) : 0; }
  std::string_view Text(int row, int column) const;
  bool IsNull(int row, int column) const;
  // The value parsed as a signed 64-bit integer. REQUIRES: the column holds an integer.
  std::int64_t Int(int row, int column) const;
  // Rows changed by an INSERT/UPDATE/DELETE (PQcmdTuples), 0 for other commands.
  std::int64_t affected() const;

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> res_;
};

// Where to connect, parsed once; holds the password only to scrub it from messages.
struct PgTarget {
  std::string conninfo;  // a postgresql:// URL or "key=value" string, as libpq accepts
  std::string display;   // "user@host:port/dbname", safe to log
  std::string password;  // empty when none; never printed
  // The sslmode libpq will use: the string's, else $PGSSLMODE, else libpq's default "prefer".
  std::string sslmode = "prefer";

  // True when libpq encrypts and verifies the server's certificate and name (verify-full); every
  // other mode either allows plain text or trusts any certificate.
  bool VerifiesServer() const { return sslmode == "verify-full"; }
};

// Parses a libpq connection string. The error does not echo the string (it may hold a password).
core::Result<PgTarget> ParsePgTarget(std::string_view conninfo);

struct PgSessionOptions {
  std::chrono::seconds connect_timeout{5};
  std::string application_name = "scrutin";
  // Statements running longer are cancelled by the server (0: no limit).
  std::chrono::milliseconds statement_timeout{30000};
  // When non-empty, SET search_path to this schema (tests use one schema each).
  std::string search_path;
};

class PgConnection {
 public:
  // Connects and configures the session (synchronous_commit on, timeouts, UTC, search_path).
  // Error: server unreachable, authentication refused, session settings rejected.
  static core::Result<PgConnection, PgError> Open(const PgTarget& target,
                                                  const PgSessionOptions& options);

  PgConnection() = default;
  PgConnection(PgConnection&&) noexcept = default;
  PgConnection& operator=(PgConnection&&) noexcept = default;

  // Runs one statement with text parameters ($1, $2, ...; nullopt is SQL NULL). Success: the
  // rows (or none). Failure: the server's message and SQLSTATE; connection_lost when the
  // connection died, after which only destruction is useful.
  core::Result<PgResult, PgError> Exec(std::string_view sql,
                                       std::span<const std::optional<std::string>> params = {});
  // Runs one or more statements without parameters (the simple protocol), e.g. DDL scripts.
  core::Result<PgResult, PgError> ExecScript(std::string_view sql);

  // True while libpq believes the connection usable (no I/O; a killed backend is noticed by the
  // next query).
  bool ok() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
  // True when no transaction is open (a lease may be returned to the pool as it is).
  bool idle() const { return ok() && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }
  // The server process serving this connection (for pg_terminate_backend in tests).
  int backend_pid() const { return conn_ ? PQbackendPID(conn_.get()) : 0; }

 private:
  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  core::Result<PgResult, PgError> Check(PGresult* res);
  std::string Scrub(std::string message) const;

  std::unique_ptr<PGconn, Finish> conn_;
  std::string password_;  // to scrub from libpq's connection messages
};

// A PgError as the one-line core::Status message "<what>: <message> [SQLSTATE xxxxx]", with the
// code CodeOf() gives it.
core::Status ToStatus(std::string_view what, const PgError& error);
// What a caller may do about `error`: kUnavailable (the connection failed or the server refused
// for now: retry later), kCorrupt (the schema or data is not what this binary expects), else
// kUnknown.
core::ErrorCode CodeOf(const PgError& error);

}  // namespace scrutin::postgres

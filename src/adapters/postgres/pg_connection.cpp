#include "adapters/postgres/pg_connection.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <vector>

namespace scrutin::postgres {
namespace {

// libpq messages end with newlines and may span lines ("connection to server ... failed: FATAL:
// ..."); an operator's log wants one line.
std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string ReplaceAll(std::string_view text, std::string_view what, std::string_view with) {
  if (what.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t from = 0;
  for (std::size_t pos = text.find(what); pos != std::string_view::npos;
       pos = text.find(what, from)) {
    out.append(text.substr(from, pos - from)).append(with);
    from = pos + what.size();
  }
  out.append(text.substr(from));
  return out;
}

}  // namespace

std::string_view PgResult::Text(int row, int column) const {
  const char* v = PQgetvalue(res_.get(), row, column);
  return v == nullptr ? std::string_view()
                      : std::string_view(v, PQgetlength(res_.get(), row, column));
}

bool PgResult::IsNull(int row, int column) const {
  return PQgetisnull(res_.get(), row, column) != 0;
}

std::int64_t PgResult::Int(int row, int column) const {
  std::string_view text = Text(row, column);
  std::int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

std::int64_t PgResult::affected() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  std::int64_t v = 0;
  if (n != nullptr) std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

core::Result<PgTarget> ParsePgTarget(std::string_view conninfo) {
  std::string text(conninfo);
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(text.c_str(), &err);
  if (options == nullptr) {
    // libpq's message may quote the offending part of the string, password included.
    if (err != nullptr) PQfreemem(err);
    return core::Fail(std::string(
        "the PostgreSQL connection string is malformed (expected postgresql://user:password@host:"
        "port/dbname or key=value pairs)"));
  }
  PgTarget target;
  target.conninfo = std::move(text);
  std::string user, host, port, dbname;
  bool sslmode_given = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view key = o->keyword;
    if (key == "user") user = o->val;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
    if (key == "password") target.password = o->val;
    if (key == "sslmode") {
      target.sslmode = o->val;
      sslmode_given = true;
    }
  }
  if (!sslmode_given) {
    // Not in the string: libpq takes it from the environment (PQconninfoParse does not).
    if (const char* env = std::getenv("PGSSLMODE"); env != nullptr && *env != '\0') {
      target.sslmode = env;
    }
  }
  PQconninfoFree(options);
  target.display =
      fmt::format("{}{}{}{}{}/{}", user, user.empty() ? "" : "@", host.empty() ? "localhost" : host,
                  port.empty() ? "" : ":", port, dbname.empty() ? user : dbname);
  return target;
}

core::Result<PgConnection, PgError> PgConnection::Open(const PgTarget& target,
                                                       const PgSessionOptions& options) {
  std::string timeout = std::to_string(std::max<long long>(1, options.connect_timeout.count()));
  // dbname is expanded as a whole connection string; the keywords after it override its values.
  const char* keywords[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {target.conninfo.c_str(), timeout.c_str(),
                          options.application_name.c_str(), nullptr};
  PgConnection c;
  c.password_ = target.password;
  c.conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!c.conn_) {
    return core::Fail(PgError{"out of memory creating a PostgreSQL connection", "", true});
  }
  if (PQstatus(c.conn_.get()) != CONNECTION_OK) {
    return core::Fail(PgError{c.Scrub(fmt::format("cannot connect to {}: {}", target.display,
                                                  OneLine(PQerrorMessage(c.conn_.get())))),
                              "", true});
  }
  // Server notices ("relation ... already exists, skipping") would otherwise be printed on stderr
  // by libpq in its own format, breaking the processes' JSON-lines log; none needs an action.
  PQsetNoticeProcessor(
      c.conn_.get(), [](void*, const char*) {}, nullptr);
  // Durability does not depend on the server's default: a commit returns only once flushed.
  std::string setup = fmt::format(
      "SET synchronous_commit = on; SET statement_timeout = {}; SET TimeZone = 'UTC'; "
      "SET client_encoding = 'UTF8'",
      options.statement_timeout.count());
  if (!options.search_path.empty()) {
    char* quoted =
        PQescapeIdentifier(c.conn_.get(), options.search_path.data(), options.search_path.size());
    if (quoted == nullptr) {
      return core::Fail(PgError{"invalid search_path schema name", "", false});
    }
    setup += fmt::format("; SET search_path = {}", quoted);
    PQfreemem(quoted);
  }
  auto res = c.ExecScript(setup);
  if (!res) return core::Fail(res.code(), res.error());
  return c;
}

core::Result<PgResult, PgError> PgConnection::Exec(
    std::string_view sql, std::span<const std::optional<std::string>> params) {
  if (!conn_) return core::Fail(PgError{"no PostgreSQL connection", "", true});
  std::string query(sql);
  std::vector<const char*> values(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i] ? params[i]->c_str() : nullptr;
  }
  return Check(PQexecParams(conn_.get(), query.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, /*resultFormat=*/0));
}

core::Result<PgResult, PgError> PgConnection::ExecScript(std::string_view sql) {
  if (!conn_) return core::Fail(PgError{"no PostgreSQL connection", "", true});
  std::string query(sql);
  return Check(PQexec(conn_.get(), query.c_str()));
}

core::Result<PgResult, PgError> PgConnection::Check(PGresult* raw) {
  PgResult res(raw);
  bool lost = PQstatus(conn_.get()) != CONNECTION_OK;
  if (raw == nullptr) {
    return core::Fail(PgError{Scrub(OneLine(PQerrorMessage(conn_.get()))), "", lost});
  }
  ExecStatusType st = PQresultStatus(raw);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return res;
  PgError error;
  error.connection_lost = lost;
  const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  if (state != nullptr) error.sqlstate = state;
  // Only the primary message: the detail of a constraint violation quotes the row's values.
  const char* primary = PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
  error.message = Scrub(OneLine(primary != nullptr ? primary : PQerrorMessage(conn_.get())));
  if (error.message.empty()) error.message = std::string(PQresStatus(st));
  // 57P01 admin_shutdown (pg_terminate_backend, server stopping), class 08 connection exceptions.
  if (error.sqlstate == "57P01" || error.sqlstate == "57P02" || error.sqlstate == "57P03" ||
      error.sqlstate.starts_with("08")) {
    error.connection_lost = true;
  }
  return core::Fail(std::move(error));
}

std::string PgConnection::Scrub(std::string message) const {
  return ReplaceAll(message, password_, "***");
}

core::ErrorCode CodeOf(const PgError& error) {
  const std::string_view cls = std::string_view(error.sqlstate).substr(0, 2);
  // No SQLSTATE: the client could not talk to the server at all. 08 connection exception, 53
  // insufficient resources, 57 operator intervention (shutdown, cancel), 40 rolled back.
  if (error.connection_lost || error.sqlstate.empty() || cls == "08" || cls == "53" ||
      cls == "57" || cls == "40") {
    return core::ErrorCode::kUnavailable;
  }
  // 42 undefined table/column or privilege: the schema is not what this binary expects; XX
  // internal error, data corrupted.
  if (cls == "42" || cls == "XX") return core::ErrorCode::kCorrupt;
  return core::ErrorCode::kUnknown;
}

core::Status ToStatus(std::string_view what, const PgError& error) {
  if (error.sqlstate.empty()) {
    return core::Fail(CodeOf(error), fmt::format("{}: {}", what, error.message));
  }
  return core::Fail(CodeOf(error),
                    fmt::format("{}: {} [SQLSTATE {}]", what, error.message, error.sqlstate));
}

}  // namespace scrutin::postgres

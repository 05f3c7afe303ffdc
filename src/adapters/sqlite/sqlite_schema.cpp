#include "adapters/sqlite/sqlite_schema.hpp"

#include <fmt/format.h>

namespace scrutin::adapters::sqlite {
namespace {

// Version 2. (Version 1 was a pre-release layout with random-keyed indexes, replaced before any
// release; such files are refused with a clear message rather than migrated.) Digests are lowercase
// hex TEXT, as in PostgreSQL, so auditors query both alike.
constexpr int kSchemaVersion = 2;
constexpr std::string_view kSchema = R"sql(
CREATE TABLE scrutin_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE vote_results (
  law_id     TEXT PRIMARY KEY,
  oui_count  INTEGER NOT NULL DEFAULT 0,
  non_count  INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL
);

-- Every attempt: accepted, duplicate, invalid. Never the choice (ballot secrecy).
-- Append-only, in arrival order. claim_tag is set on accepted rows (core::ClaimTag of the request).
-- Only the (law, time) index: every random-keyed index costs a random page write per vote, which
-- is what bounds the embedded writer; auditors add their own to a copy of the file.
CREATE TABLE vote_audit (
  id            INTEGER PRIMARY KEY,
  request_key   TEXT NOT NULL,
  claim_tag     TEXT,
  vote_hash     TEXT NOT NULL,
  law_id        TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('accepted', 'duplicate', 'invalid')),
  attempt_count INTEGER NOT NULL,
  timestamp     TEXT NOT NULL,
  CHECK ((status = 'accepted') = (claim_tag IS NOT NULL))
);
CREATE INDEX idx_vote_audit_law_timestamp ON vote_audit (law_id, timestamp);

-- attempt_count counts every attempt of the credential on its law, the accepted one included.
CREATE TABLE duplicate_attempts (
  vote_hash     TEXT PRIMARY KEY,
  law_id        TEXT NOT NULL,
  attempt_count INTEGER NOT NULL,
  first_attempt TEXT NOT NULL,
  last_attempt  TEXT NOT NULL
) WITHOUT ROWID;

-- The voted set, as PostgreSQL's table of the same name: here a view of the audit trail. One
-- accepted row per digest is the single writer's invariant, checked at every start-up.
CREATE VIEW accepted_credentials (vote_hash, law_id, claim_tag) AS
  SELECT vote_hash, law_id, claim_tag FROM vote_audit WHERE status = 'accepted';

-- Secret ballots: no digest, no time, stored in receipt order (not in arrival order). The receipt
-- is core::Receipt of the request: a request's ballot is also how its `accepted` status is found.
CREATE TABLE ballots (
  receipt TEXT PRIMARY KEY,
  law_id  TEXT NOT NULL,
  choice  TEXT NOT NULL CHECK (choice IN ('oui', 'non'))
) WITHOUT ROWID;

-- Statuses of the requests that did not produce a ballot (duplicate, invalid).
CREATE TABLE request_status (
  status_key    TEXT PRIMARY KEY,
  law_id        TEXT NOT NULL,
  status        TEXT NOT NULL,
  attempt_count INTEGER NOT NULL,
  expires_at    TEXT NOT NULL
) WITHOUT ROWID;
)sql";

}  // namespace

core::Result<std::string> ReadMeta(Connection& conn, std::string_view key) {
  auto s = conn.Prepare("SELECT value FROM scrutin_meta WHERE key = ?1");
  if (!s) return core::Fail(s.code(), s.error());
  s->Bind(1, key);
  auto row = s->Step();
  if (!row) return core::Fail(row.code(), row.error());
  return *row ? std::string(s->Text(0)) : std::string();
}

core::Status WriteMeta(Connection& conn, std::string_view key, std::string_view value) {
  auto s = conn.Prepare(
      "INSERT INTO scrutin_meta (key, value) VALUES (?1, ?2) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!s) return core::Fail(s.code(), s.error());
  return s->Bind(1, key).Bind(2, value).Run();
}

core::Status Migrate(Connection& conn) {
  auto version = conn.Prepare("PRAGMA user_version");
  if (!version) return core::Fail(version.code(), version.error());
  auto row = version->Step();
  if (!row) return core::Fail(row.code(), row.error());
  int current = static_cast<int>(version->Int(0));
  version->Reset();
  if (current > kSchemaVersion) {
    return core::Fail(core::ErrorCode::kRefused,
                      fmt::format("the database has schema version {}, newer than this scrutin "
                                  "knows ({}): upgrade scrutin",
                                  current, kSchemaVersion));
  }
  if (current == kSchemaVersion) return {};
  if (current != 0) {
    return core::Fail(
        core::ErrorCode::kRefused,
        fmt::format(
            "the database has schema version {}, written by a pre-release scrutin; it cannot be "
            "upgraded: use a new data directory",
            current));
  }
  if (auto st = conn.Exec("BEGIN IMMEDIATE"); !st) return st;
  core::Status st = conn.Exec(kSchema);
  if (st) st = conn.Exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
  if (st) st = conn.Exec("COMMIT");
  if (!st) {
    (void)conn.Exec("ROLLBACK");
    return core::Fail("cannot create the schema: " + st.error());
  }
  return {};
}

}  // namespace scrutin::adapters::sqlite

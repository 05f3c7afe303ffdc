#include "adapters/sqlite/sqlite_schema.hpp"

#include <fmt/format.h>

namespace scrutin::adapters::sqlite {
namespace {

// Version 4: the records of closed laws, the closing times moved on the admin port and their
// audit; version 3 added sealed ballots and the mixer's tables
// (docs/ballot-secrecy.md). Version 2 and 3 files are migrated (kMigrate2To3, kMigrate3To4);
// version 1 was a pre-release layout with random-keyed indexes, replaced before any release; such
// files are refused with a clear message rather than migrated. Digests are lowercase hex TEXT, as
// in PostgreSQL, so auditors query both alike.
constexpr int kSchemaVersion = 4;
// Version 3's tables; a new file gets them and then kMigrate3To4, as an upgraded one does.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE scrutin_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- Moved only by the mixer, one group at a time; groups and smallest_group say how it mixed.
CREATE TABLE vote_results (
  law_id         TEXT PRIMARY KEY,
  oui_count      INTEGER NOT NULL DEFAULT 0,
  non_count      INTEGER NOT NULL DEFAULT 0,
  updated_at     TEXT NOT NULL,
  groups         INTEGER NOT NULL DEFAULT 0,
  smallest_group INTEGER NOT NULL DEFAULT 0
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

-- Ballots as recorded with their claim: sealed (ChaCha20-Poly1305 with the ballot key; the choice
-- and the receipt inside), in arrival order. The mixer deletes them as it opens them.
CREATE TABLE sealed_ballots (
  id     INTEGER PRIMARY KEY,
  law_id TEXT NOT NULL,
  sealed BLOB NOT NULL CHECK (length(sealed) = 49)
);
CREATE INDEX idx_sealed_ballots_law ON sealed_ballots (law_id, id);

-- Opened ballots: law and choice only (no key, no receipt, no digest, no time), written by the
-- mixer a shuffled group at a time, so a row's position says only which group it came in.
CREATE TABLE ballots (
  law_id TEXT NOT NULL,
  choice TEXT NOT NULL CHECK (choice IN ('oui', 'non'))
);

-- The receipts of the counted ballots, kept apart from them (GET /api/v1/receipts/{receipt}).
CREATE TABLE receipts (
  receipt TEXT PRIMARY KEY,
  law_id  TEXT NOT NULL
) WITHOUT ROWID;

-- The status of every request (accepted, duplicate, invalid), until its law's close plus the
-- retention. Its key is also what makes recording a request twice change nothing.
CREATE TABLE request_status (
  status_key    TEXT PRIMARY KEY,
  law_id        TEXT NOT NULL,
  status        TEXT NOT NULL,
  attempt_count INTEGER NOT NULL,
  expires_at    TEXT NOT NULL
) WITHOUT ROWID;

)sql";

// From version 2 (ballots keyed by receipt, beside their choice, written with the claim).
constexpr std::string_view kMigrate2To3 = R"sql(
CREATE TABLE sealed_ballots (
  id     INTEGER PRIMARY KEY,
  law_id TEXT NOT NULL,
  sealed BLOB NOT NULL CHECK (length(sealed) = 49)
);
CREATE INDEX idx_sealed_ballots_law ON sealed_ballots (law_id, id);
CREATE TABLE receipts (
  receipt TEXT PRIMARY KEY,
  law_id  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO receipts (receipt, law_id) SELECT receipt, law_id FROM ballots;
CREATE TABLE ballots_mixed (
  law_id TEXT NOT NULL,
  choice TEXT NOT NULL CHECK (choice IN ('oui', 'non'))
);
INSERT INTO ballots_mixed (law_id, choice) SELECT law_id, choice FROM ballots ORDER BY random();
DROP TABLE ballots;
ALTER TABLE ballots_mixed RENAME TO ballots;
ALTER TABLE vote_results ADD COLUMN groups INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vote_results ADD COLUMN smallest_group INTEGER NOT NULL DEFAULT 0;
UPDATE vote_results SET groups = 1, smallest_group = oui_count + non_count
  WHERE oui_count + non_count > 0;
)sql";

// From version 3.
constexpr std::string_view kMigrate3To4 = R"sql(
-- The record of each closed law (docs/ballot-secrecy.md "The record at the close"), written once
-- by the mixer after the law's last group: the signed JSON and the receipts list, as served.
CREATE TABLE records (
  law_id   TEXT PRIMARY KEY,
  record   TEXT NOT NULL,
  receipts TEXT NOT NULL
);

-- The closing time in force of each law closed early or extended on the admin port (absent: the
-- ballot's closes_at).
CREATE TABLE law_schedule (
  law_id     TEXT PRIMARY KEY,
  closes_at  TEXT NOT NULL,
  changed_at TEXT NOT NULL
) WITHOUT ROWID;

-- Every action taken on the admin port, in order.
CREATE TABLE admin_audit (
  id                 INTEGER PRIMARY KEY,
  action             TEXT NOT NULL CHECK (action IN ('close', 'extend')),
  law_id             TEXT NOT NULL,
  previous_closes_at TEXT NOT NULL,
  closes_at          TEXT NOT NULL,
  timestamp          TEXT NOT NULL
);

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
  if (current != 0 && current != 2 && current != 3) {
    return core::Fail(
        core::ErrorCode::kRefused,
        fmt::format(
            "the database has schema version {}, written by a pre-release scrutin; it cannot be "
            "upgraded: use a new data directory",
            current));
  }
  if (auto st = conn.Exec("BEGIN IMMEDIATE"); !st) return st;
  core::Status st = current == 0   ? conn.Exec(kSchema)
                    : current == 2 ? conn.Exec(kMigrate2To3)
                                   : core::Status{};
  if (st) st = conn.Exec(kMigrate3To4);
  if (st) st = conn.Exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
  if (st) st = conn.Exec("COMMIT");
  if (!st) {
    (void)conn.Exec("ROLLBACK");
    return core::Fail(current == 0 ? "cannot create the schema: " + st.error()
                                   : "cannot upgrade the schema to version 4: " + st.error());
  }
  return {};
}

}  // namespace scrutin::adapters::sqlite

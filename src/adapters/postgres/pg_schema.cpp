#include "adapters/postgres/pg_schema.hpp"

#include <fmt/format.h>

#include <array>

#include "adapters/postgres/pg_array.hpp"

namespace scrutin::postgres {
namespace {

// The advisory lock's first key ("SCRT"); the second is hashtext(current_schema()), so that
// migrations of different schemas in one database (tests) do not wait for each other.
constexpr int kMigrationLockClass = 0x53435254;

// Version 1: the tables of docs/schema.md. Digests and derived keys are lowercase hex, checked
// here too so that a bug upstream cannot store something else (a NAS, say) in their place.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE vote_results (
  law_id     TEXT PRIMARY KEY CHECK (law_id ~ '^[A-Z][0-9]{4}-[0-9]{3}$'),
  oui_count  BIGINT NOT NULL DEFAULT 0 CHECK (oui_count >= 0),
  non_count  BIGINT NOT NULL DEFAULT 0 CHECK (non_count >= 0),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every attempt: accepted, duplicate, invalid. Never the choice (ballot secrecy).
-- The voted set can be rebuilt from it alone:
--   SELECT DISTINCT vote_hash FROM vote_audit WHERE status = 'accepted'.
CREATE TABLE vote_audit (
  id            BIGSERIAL PRIMARY KEY,
  request_key   TEXT NOT NULL UNIQUE CHECK (request_key ~ '^[0-9a-f]{32}$'),
  vote_hash     TEXT NOT NULL CHECK (vote_hash ~ '^[0-9a-f]{64}$'),
  law_id        TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('accepted', 'duplicate', 'invalid')),
  attempt_count INTEGER NOT NULL CHECK (attempt_count >= 0),
  "timestamp"   TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_hash ON vote_audit (vote_hash);
CREATE INDEX idx_law_timestamp ON vote_audit (law_id, "timestamp");

-- attempt_count counts every attempt of the credential on its law, the accepted one included;
-- first_attempt and last_attempt are those of the duplicates.
CREATE TABLE duplicate_attempts (
  vote_hash     TEXT PRIMARY KEY CHECK (vote_hash ~ '^[0-9a-f]{64}$'),
  law_id        TEXT NOT NULL,
  attempt_count INTEGER NOT NULL CHECK (attempt_count >= 0),
  first_attempt TIMESTAMPTZ NOT NULL,
  last_attempt  TIMESTAMPTZ NOT NULL
);

-- The voted set. claim_tag identifies the claiming request without revealing its id, so that a
-- redelivered batch recognises its own rows.
CREATE TABLE accepted_credentials (
  vote_hash TEXT PRIMARY KEY CHECK (vote_hash ~ '^[0-9a-f]{64}$'),
  law_id    TEXT NOT NULL,
  claim_tag TEXT NOT NULL CHECK (claim_tag ~ '^[0-9a-f]{32}$')
);

-- Secret ballots: no digest, no time, no request id; keyed by the voter's receipt.
CREATE TABLE ballots (
  receipt TEXT PRIMARY KEY,
  law_id  TEXT NOT NULL,
  choice  TEXT NOT NULL CHECK (choice IN ('oui', 'non'))
);

-- What GET /api/v1/vote/{id} answers, keyed by a one-way function of the request id.
CREATE TABLE request_status (
  status_key    TEXT PRIMARY KEY CHECK (status_key ~ '^[0-9a-f]{32}$'),
  law_id        TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'duplicate', 'invalid')),
  attempt_count INTEGER NOT NULL CHECK (attempt_count >= 0),
  expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_request_status_expires ON request_status (expires_at);
)sql";

// Version 2: the same checks, written so that PostgreSQL evaluates them ~10x faster. Its regex
// engine runs a bounded repetition ('{64}') as a counting automaton: ~5 us per row on this
// machine, and the aggregator evaluates five such checks per accepted vote, which made them the
// largest single item of PostgreSQL's CPU per vote (27% under load, by perf). A length test plus
// an unbounded class ('+') accepts exactly the same strings in ~0.5 us. Re-adding a check
// validates the existing rows once (one scan per table, at upgrade).
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE vote_audit
  DROP CONSTRAINT vote_audit_request_key_check,
  DROP CONSTRAINT vote_audit_vote_hash_check,
  ADD CONSTRAINT vote_audit_request_key_check
    CHECK (length(request_key) = 32 AND request_key ~ '^[0-9a-f]+$'),
  ADD CONSTRAINT vote_audit_vote_hash_check
    CHECK (length(vote_hash) = 64 AND vote_hash ~ '^[0-9a-f]+$');
ALTER TABLE duplicate_attempts
  DROP CONSTRAINT duplicate_attempts_vote_hash_check,
  ADD CONSTRAINT duplicate_attempts_vote_hash_check
    CHECK (length(vote_hash) = 64 AND vote_hash ~ '^[0-9a-f]+$');
ALTER TABLE accepted_credentials
  DROP CONSTRAINT accepted_credentials_vote_hash_check,
  DROP CONSTRAINT accepted_credentials_claim_tag_check,
  ADD CONSTRAINT accepted_credentials_vote_hash_check
    CHECK (length(vote_hash) = 64 AND vote_hash ~ '^[0-9a-f]+$'),
  ADD CONSTRAINT accepted_credentials_claim_tag_check
    CHECK (length(claim_tag) = 32 AND claim_tag ~ '^[0-9a-f]+$');
ALTER TABLE request_status
  DROP CONSTRAINT request_status_status_key_check,
  ADD CONSTRAINT request_status_status_key_check
    CHECK (length(status_key) = 32 AND status_key ~ '^[0-9a-f]+$');
)sql";

// Version 3: ballot secrecy against a store reader (docs/ballot-secrecy.md). The claim's
// transaction writes a sealed ballot (ciphertext) instead of a ballot; the mixer opens them in
// groups and writes plaintext ballots (law and choice only: no key, no receipt, no time) and the
// receipts apart, each in shuffled order. Ballots recorded before are moved: their receipts to
// `receipts`, their choices rewritten in random order into a new table (new xmin and ctid for all,
// so the old transaction ids no longer pair them with their claims), and counted as one group.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE sealed_ballots (
  id      BIGSERIAL PRIMARY KEY,
  law_id  TEXT NOT NULL,
  sealed  BYTEA NOT NULL CHECK (octet_length(sealed) = 49)
);
CREATE INDEX idx_sealed_ballots_law ON sealed_ballots (law_id, id);

CREATE TABLE receipts (
  receipt TEXT PRIMARY KEY,
  law_id  TEXT NOT NULL
);
INSERT INTO receipts (receipt, law_id) SELECT receipt, law_id FROM ballots ORDER BY random();

CREATE TABLE ballots_mixed (
  law_id TEXT NOT NULL,
  choice TEXT NOT NULL CHECK (choice IN ('oui', 'non'))
);
INSERT INTO ballots_mixed (law_id, choice) SELECT law_id, choice FROM ballots ORDER BY random();
DROP TABLE ballots;
ALTER TABLE ballots_mixed RENAME TO ballots;
CREATE INDEX idx_ballots_law ON ballots (law_id);

ALTER TABLE vote_results
  ADD COLUMN groups BIGINT NOT NULL DEFAULT 0 CHECK (groups >= 0),
  ADD COLUMN smallest_group BIGINT NOT NULL DEFAULT 0 CHECK (smallest_group >= 0);
UPDATE vote_results SET groups = 1, smallest_group = oui_count + non_count
  WHERE oui_count + non_count > 0;
)sql";

// Version 4: the record of each closed law (docs/ballot-secrecy.md "The record at the close"),
// written once by the first mixer to seal it; the closing time in force of a law closed early or
// extended on an api's admin port (every api and aggregator reads it), and the audit of those
// actions.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE records (
  law_id   TEXT PRIMARY KEY,
  record   TEXT NOT NULL,
  receipts TEXT NOT NULL
);

CREATE TABLE law_schedule (
  law_id     TEXT PRIMARY KEY,
  closes_at  TIMESTAMPTZ NOT NULL,
  changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE admin_audit (
  id                 BIGSERIAL PRIMARY KEY,
  action             TEXT NOT NULL CHECK (action IN ('close', 'extend')),
  law_id             TEXT NOT NULL,
  previous_closes_at TIMESTAMPTZ NOT NULL,
  closes_at          TIMESTAMPTZ NOT NULL,
  "timestamp"        TIMESTAMPTZ NOT NULL DEFAULT now()
);

)sql";

constexpr std::array kMigrations = {
    Migration{1, "vote tables of docs/schema.md", kSchemaV1},
    Migration{2, "hex checks without bounded regex repetition (same strings, ~10x cheaper)",
              kSchemaV2},
    Migration{3, "sealed ballots, mixed in groups; receipts apart from ballots", kSchemaV3},
    Migration{4, "records of closed laws; emergency close and extension with their audit",
              kSchemaV4},
};

core::Status Rollback(PgConnection& conn, core::Status st) {
  (void)conn.ExecScript("ROLLBACK");
  return st;
}

}  // namespace

std::span<const Migration> KnownMigrations() { return kMigrations; }

int LatestSchemaVersion() { return kMigrations.back().version; }

core::Status Migrate(PgPool& pool) { return Migrate(pool, KnownMigrations()); }

core::Status Migrate(PgPool& pool, std::span<const Migration> migrations) {
  if (migrations.empty()) return core::Fail(std::string("no migration to apply"));
  const int latest = migrations.back().version;
  auto lease = pool.Acquire();
  if (!lease) return core::Fail("cannot migrate the PostgreSQL schema: " + lease.error());
  PgConnection& conn = **lease;
  auto fail = [&](const PgError& e) {
    return Rollback(conn, ToStatus("cannot migrate the PostgreSQL schema", e));
  };

  if (auto r = conn.ExecScript("BEGIN"); !r) return fail(r.error());
  // Held until COMMIT/ROLLBACK: a second starter waits here, then finds the work done.
  if (auto r = conn.ExecScript(fmt::format(
          "SELECT pg_advisory_xact_lock({}, hashtext(current_schema()))", kMigrationLockClass));
      !r) {
    return fail(r.error());
  }
  if (auto r = conn.ExecScript("CREATE TABLE IF NOT EXISTS schema_migrations ("
                               " version INTEGER PRIMARY KEY,"
                               " description TEXT NOT NULL,"
                               " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      !r) {
    return fail(r.error());
  }
  auto current_row = conn.ExecScript("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!current_row) return fail(current_row.error());
  const int current = static_cast<int>(current_row->Int(0, 0));
  if (current > latest) {
    return Rollback(
        conn,
        core::Fail(core::ErrorCode::kRefused,
                   fmt::format("the PostgreSQL schema is at version {}, newer than this scrutin "
                               "knows ({}): upgrade scrutin before starting it on this database",
                               current, latest)));
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    if (auto r = conn.ExecScript(m.sql); !r) {
      return Rollback(conn, ToStatus(fmt::format("PostgreSQL schema migration {} ({}) failed",
                                                 m.version, m.description),
                                     r.error()));
    }
    std::array<std::optional<std::string>, 2> params = {std::to_string(m.version),
                                                        std::string(m.description)};
    if (auto r = conn.Exec(
            "INSERT INTO schema_migrations (version, description) VALUES ($1::integer, $2)",
            params);
        !r) {
      return fail(r.error());
    }
  }
  if (auto r = conn.ExecScript("COMMIT"); !r) return fail(r.error());
  return {};
}

core::Result<int> CurrentSchemaVersion(PgPool& pool) {
  auto lease = pool.Acquire();
  if (!lease) return core::Fail(lease.code(), lease.error());
  auto exists = (*lease)->ExecScript("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists)
    return core::Fail(ToStatus("cannot read the schema version", exists.error()).error());
  if (exists->Text(0, 0) != "t") return 0;
  auto version = (*lease)->ExecScript("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!version) {
    return core::Fail(ToStatus("cannot read the schema version", version.error()).error());
  }
  return static_cast<int>(version->Int(0, 0));
}

core::Status SeedTallies(PgPool& pool, const core::Ballot& ballot) {
  PgArrayLiteral laws;
  for (const auto& law : ballot.laws()) laws.Add(law.id);
  auto lease = pool.Acquire();
  if (!lease) return core::Fail("cannot create the tallies: " + lease.error());
  std::array<std::optional<std::string>, 1> params = {laws.Take()};
  auto r = (*lease)->Exec(
      "INSERT INTO vote_results (law_id) SELECT unnest($1::text[]) ORDER BY 1 "
      "ON CONFLICT (law_id) DO NOTHING",
      params);
  if (!r) return ToStatus("cannot create the tallies", r.error());
  return {};
}

}  // namespace scrutin::postgres

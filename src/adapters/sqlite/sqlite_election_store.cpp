#include "adapters/sqlite/sqlite_election_store.hpp"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "adapters/sqlite/sqlite_ballot_box.hpp"
#include "adapters/sqlite/sqlite_checkpointer.hpp"
#include "adapters/sqlite/sqlite_data_lock.hpp"
#include "adapters/sqlite/sqlite_db.hpp"
#include "adapters/sqlite/sqlite_law_schedule.hpp"
#include "adapters/sqlite/sqlite_schema.hpp"
#include "adapters/sqlite/sqlite_vote_queries.hpp"
#include "adapters/sqlite/sqlite_vote_recorder.hpp"

namespace scrutin::adapters::sqlite {

struct SqliteElectionStore::Impl {
  DataLock lock;
  Connection writer;  // used for recovery reads before it moves into the recorder
  std::unique_ptr<SqliteVoteRecorder> recorder;
  std::unique_ptr<SqliteVoteQueries> queries;
  std::unique_ptr<SqliteBallotBox> box;
  std::unique_ptr<SqliteLawSchedule> schedule;
  std::unique_ptr<Checkpointer> checkpointer;  // destroyed first: stops before the recorder closes
};

SqliteElectionStore::SqliteElectionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteElectionStore::~SqliteElectionStore() = default;

core::Result<std::unique_ptr<SqliteElectionStore>> SqliteElectionStore::Open(
    const SqliteStoreOptions& options, const core::Ballot& ballot) {
  auto lock = DataLock::Acquire(options.file);
  if (!lock) return core::Fail(lock.code(), lock.error());
  auto conn = Connection::Open(options.file, Connection::Mode::kReadWrite);
  if (!conn) return core::Fail(conn.code(), conn.error());
  // WAL: readers never block the writer. synchronous=FULL for this set-up connection (the vote
  // writer's commits are synced by SqliteVoteRecorder::Sync instead). secure_delete: purged
  // statuses are overwritten, not left in free pages.
  for (std::string_view pragma :
       {"PRAGMA page_size = 1024", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
        "PRAGMA secure_delete = ON", "PRAGMA foreign_keys = ON"}) {
    if (auto st = conn->Exec(pragma); !st) {
      return core::Fail(st.code(),
                        fmt::format("cannot configure {}: {}", options.file.string(), st.error()));
    }
  }
  if (auto st = Migrate(*conn); !st) return core::Fail(st.code(), st.error());

  auto recorded = ReadMeta(*conn, "eligibility_fingerprint");
  if (!recorded) return core::Fail(recorded.code(), recorded.error());
  if (recorded->empty()) {
    if (auto st = WriteMeta(*conn, "eligibility_fingerprint", options.eligibility_fingerprint);
        !st) {
      return core::Fail(st.code(), st.error());
    }
  } else if (*recorded != options.eligibility_fingerprint) {
    return core::Fail(
        core::ErrorCode::kRefused,
        fmt::format(
            "{} was recorded against another eligibility database; use the hash database it was "
            "created with, or a new data directory",
            options.file.string()));
  }

  // One tally row per law on the ballot, so results read zeroes before the first vote.
  auto seed = conn->Prepare(
      "INSERT INTO vote_results (law_id, updated_at) VALUES (?1, ?2) "
      "ON CONFLICT (law_id) DO NOTHING");
  if (!seed) return core::Fail(seed.code(), seed.error());
  std::string now = core::FormatTimestamp(core::Clock::now());
  for (const auto& law : ballot.laws()) {
    if (auto st = seed->Bind(1, law.id).Bind(2, now).Run(); !st)
      return core::Fail(st.code(), st.error());
  }

  auto impl =
      std::make_unique<Impl>(
      Impl{std::move(*lock), std::move(*conn), nullptr, nullptr, nullptr, nullptr, nullptr});
  auto writer = Connection::Open(options.file, Connection::Mode::kReadWrite);
  if (!writer) return core::Fail(writer.code(), writer.error());
  // An 8 MiB page cache: a large one makes every commit slower as the file grows, because SQLite
  // scans its whole page-cache hash when the WAL is rewound (pcache1TruncateUnsafe;
  // bench/RESULTS.md, "SQLite page cache A/B"). Checkpoints run on their own connection
  // (Checkpointer).
  for (std::string_view pragma :
       {"PRAGMA synchronous = NORMAL", "PRAGMA secure_delete = ON", "PRAGMA cache_size = -8192",
        "PRAGMA wal_autocheckpoint = 0", "PRAGMA journal_size_limit = 268435456"}) {
    if (auto st = writer->Exec(pragma); !st) return core::Fail(st.code(), st.error());
  }
  impl->recorder =
      std::make_unique<SqliteVoteRecorder>(std::move(*writer), ballot, options.status_retention);
  if (auto st = impl->recorder->Prepare(); !st) return core::Fail(st.code(), st.error());
  if (auto st = impl->recorder->OpenLog(options.file.string() + "-wal"); !st) {
    return core::Fail(st.code(), st.error());
  }
  std::map<std::string, std::string> expires_at;
  for (const auto& law : ballot.laws()) {
    expires_at[law.id] = core::FormatTimestamp(law.closes_at + options.status_retention);
  }
  impl->queries = std::make_unique<SqliteVoteQueries>(options.file, std::move(expires_at));
  impl->box = std::make_unique<SqliteBallotBox>(impl->recorder->connection());
  if (auto st = impl->box->Prepare(); !st) return core::Fail(st.code(), st.error());
  auto schedule = SqliteLawSchedule::Open(options.file);
  if (!schedule) return core::Fail(schedule.code(), schedule.error());
  impl->schedule = std::move(*schedule);
  auto checkpoint_conn = Connection::Open(options.file, Connection::Mode::kReadWrite);
  if (!checkpoint_conn) return core::Fail(checkpoint_conn.code(), checkpoint_conn.error());
  impl->checkpointer = std::make_unique<Checkpointer>(std::move(*checkpoint_conn));
  if (auto st = impl->checkpointer->Prepare(options.file); !st)
    return core::Fail(st.code(), st.error());
  impl->checkpointer->Start();
  return std::unique_ptr<SqliteElectionStore>(new SqliteElectionStore(std::move(impl)));
}

ports::VoteRecorder& SqliteElectionStore::recorder() { return *impl_->recorder; }
ports::VoteQueries& SqliteElectionStore::queries() { return *impl_->queries; }
ports::BallotBox& SqliteElectionStore::ballot_box() { return *impl_->box; }
ports::LawSchedule& SqliteElectionStore::law_schedule() { return *impl_->schedule; }

core::Status SqliteElectionStore::ForEachClaim(
    const std::function<core::Status(const core::Digest&, std::string_view)>& fn) {
  auto s = impl_->writer.Prepare(
      "SELECT vote_hash, claim_tag FROM vote_audit WHERE status = 'accepted' ORDER BY id");
  if (!s) return core::Fail(s.code(), s.error());
  for (;;) {
    auto row = s->Step();
    if (!row) return core::Fail(row.code(), row.error());
    if (!*row) return {};
    auto digest = core::Digest::FromHex(s->Text(0));
    if (!digest) {
      return core::Fail(core::ErrorCode::kCorrupt,
                        std::string("accepted_credentials holds a malformed digest"));
    }
    if (auto st = fn(*digest, s->Text(1)); !st) return st;
  }
}

core::Status SqliteElectionStore::ForEachAttempts(
    const std::function<core::Status(const core::Digest&, std::uint32_t)>& fn) {
  auto s = impl_->writer.Prepare("SELECT vote_hash, attempt_count FROM duplicate_attempts");
  if (!s) return core::Fail(s.code(), s.error());
  for (;;) {
    auto row = s->Step();
    if (!row) return core::Fail(row.code(), row.error());
    if (!*row) return {};
    auto digest = core::Digest::FromHex(s->Text(0));
    if (!digest) {
      return core::Fail(core::ErrorCode::kCorrupt,
                        std::string("duplicate_attempts holds a malformed digest"));
    }
    if (auto st = fn(*digest, static_cast<std::uint32_t>(s->Int(1))); !st) return st;
  }
}

}  // namespace scrutin::adapters::sqlite

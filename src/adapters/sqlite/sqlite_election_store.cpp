#include "adapters/sqlite/sqlite_election_store.hpp"

#include <fcntl.h>  // sync_file_range (Linux)
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/sqlite/sqlite_db.hpp"

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

// ---------------------------------------------------------------------------------------------
class SqliteVoteRecorder final : public ports::VoteRecorder {
 public:
  SqliteVoteRecorder(Connection conn, const core::Ballot& ballot, std::chrono::seconds retention)
      : conn_(std::move(conn)) {
    for (const auto& law : ballot.laws()) {
      expires_at_[law.id] = core::FormatTimestamp(law.closes_at + retention);
    }
  }

  core::Status Prepare() {
    struct {
      Statement* stmt;
      std::string_view sql;
    } all[] = {
        {&begin_, "BEGIN IMMEDIATE"},
        {&commit_, "COMMIT"},
        {&rollback_, "ROLLBACK"},
        {&audit_,
         "INSERT INTO vote_audit (request_key, claim_tag, vote_hash, law_id, status, "
         "attempt_count, timestamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&status_,
         "INSERT INTO request_status (status_key, law_id, status, attempt_count, expires_at) "
         "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (status_key) DO NOTHING"},
        {&ballot_,
         "INSERT INTO ballots (receipt, law_id, choice) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (receipt) DO NOTHING"},
        {&duplicate_,
         "INSERT INTO duplicate_attempts (vote_hash, law_id, attempt_count, first_attempt, "
         "last_attempt) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (vote_hash) DO UPDATE SET "
         "attempt_count = max(attempt_count, excluded.attempt_count), "
         "last_attempt = max(last_attempt, excluded.last_attempt)"},
        {&tally_,
         "UPDATE vote_results SET oui_count = oui_count + ?2, non_count = non_count + ?3, "
         "updated_at = ?4 WHERE law_id = ?1"},
        {&purge_, "DELETE FROM request_status WHERE law_id = ?1"},
    };
    for (auto& s : all) {
      auto st = conn_.Prepare(s.sql);
      if (!st) return core::Fail(st.error());
      *s.stmt = std::move(*st);
    }
    return {};
  }

  core::Status Record(std::span<const core::VoteEnvelope> votes,
                      std::span<const core::Decision> decisions) override {
    if (auto st = begin_.Run(); !st) return st;
    auto st = RecordInTransaction(votes, decisions);
    if (st) st = commit_.Run();
    if (!st) {
      (void)rollback_.Run();  // fails harmlessly when COMMIT already rolled back
      return core::Fail("cannot record votes: " + st.error());
    }
    MaybePurgeExpired();
    return {};
  }

  // The writer commits with synchronous=NORMAL (no fsync in COMMIT) and its WAL is synced here,
  // from the intake's completion thread, while the writer records the next batch. WAL frames are
  // appended in commit order, so one fdatasync of the log makes every earlier commit durable,
  // exactly as synchronous=FULL's fsync at each commit would; SQLite still syncs the log before
  // every checkpoint and after rewinding it, so frames never reach the database file unsynced.
  bool defers_sync() const override { return true; }
  core::Status Sync() override {
    if (::fdatasync(wal_fd_) != 0) {
      return core::Fail(fmt::format("cannot sync the write-ahead log: {}", std::strerror(errno)));
    }
    return {};
  }

  // REQUIRES: the log exists (the connection has read the database in WAL mode).
  core::Status OpenLog(const std::filesystem::path& wal) {
    wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) {
      return core::Fail(fmt::format("cannot open {}: {}", wal.string(), std::strerror(errno)));
    }
    return {};
  }
  ~SqliteVoteRecorder() override {
    if (wal_fd_ >= 0) ::close(wal_fd_);
  }

 private:
  core::Status RecordInTransaction(std::span<const core::VoteEnvelope> votes,
                                   std::span<const core::Decision> decisions) {
    tallies_.clear();
    std::string now = core::FormatTimestamp(core::Clock::now());
    for (std::size_t i = 0; i < votes.size(); ++i) {
      const auto& v = votes[i];
      const auto& d = decisions[i];
      auto expires = expires_at_.find(v.law_id);
      if (expires == expires_at_.end()) return core::Fail("vote for a law not on the ballot");
      std::string key = core::StatusKey(v.request_id);
      std::string_view status = core::ToString(d.status);
      bool accepted = d.status == core::VoteStatus::kAccepted;

      // Idempotency: a request recorded before (a redelivery) finds its ballot or its status row
      // already there and changes nothing. An accepted vote writes no status row: its ballot,
      // found by receipt, is its status.
      if (accepted) {
        ballot_.Bind(1, core::Receipt(v.request_id)).Bind(2, v.law_id);
        if (auto st = ballot_.Bind(3, core::ToString(v.choice)).Run(); !st) return st;
      } else {
        status_.Bind(1, key).Bind(2, v.law_id).Bind(3, status);
        if (auto st = status_.Bind(4, std::int64_t{d.attempt_count}).Bind(5, expires->second).Run();
            !st) {
          return st;
        }
      }
      if (conn_.Changes() == 0) continue;

      std::string hash = v.digest.ToHex();
      std::string received = core::FormatTimestamp(v.received_at);
      audit_.Bind(1, key).Bind(3, hash).Bind(4, v.law_id).Bind(5, status);
      if (accepted) audit_.Bind(2, core::ClaimTag(v.request_id));
      if (auto st = audit_.Bind(6, std::int64_t{d.attempt_count}).Bind(7, received).Run(); !st) {
        return st;
      }
      if (accepted) {
        auto& t = tallies_[v.law_id];
        (v.choice == core::Choice::kOui ? t.first : t.second) += 1;
      } else if (d.status == core::VoteStatus::kDuplicate) {
        duplicate_.Bind(1, hash).Bind(2, v.law_id).Bind(3, std::int64_t{d.attempt_count});
        if (auto st = duplicate_.Bind(4, received).Run(); !st) return st;
      }
    }
    for (const auto& [law, counts] : tallies_) {
      tally_.Bind(1, law).Bind(2, counts.first).Bind(3, counts.second).Bind(4, now);
      if (auto st = tally_.Run(); !st) return st;
    }
    return {};
  }

  // A law's request statuses all expire together (its close plus the retention): once that time
  // has passed they are deleted in one statement, checked at most once a minute, outside vote
  // transactions.
  void MaybePurgeExpired() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_purge_ < std::chrono::minutes(1)) return;
    last_purge_ = now;
    std::string wall = core::FormatTimestamp(core::Clock::now());
    for (const auto& [law, expires] : expires_at_) {
      if (expires < wall && !purged_.contains(law) && purge_.Bind(1, law).Run()) {
        purged_.insert(law);
      }
    }
  }

  Connection conn_;
  std::map<std::string, std::string> expires_at_;
  std::set<std::string> purged_;  // laws whose statuses were deleted
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> tallies_;
  std::chrono::steady_clock::time_point last_purge_ = std::chrono::steady_clock::now();
  Statement begin_, commit_, rollback_, audit_, status_, ballot_, duplicate_, tally_, purge_;
  int wal_fd_ = -1;  // the write-ahead log, for Sync()
};

// ---------------------------------------------------------------------------------------------
class SqliteVoteQueries final : public ports::VoteQueries {
 public:
  // expires_at: per law, when its request statuses stop being served (close + retention).
  SqliteVoteQueries(std::filesystem::path file, std::map<std::string, std::string> expires_at)
      : file_(std::move(file)), expires_at_(std::move(expires_at)) {}

  core::Result<std::optional<ports::StatusRecord>> FindStatus(const core::RequestId& id) override {
    auto lease = Acquire();
    if (!lease) return core::Fail(lease.error());
    std::string now = core::FormatTimestamp(core::Clock::now());
    std::optional<ports::StatusRecord> out;
    // Duplicates and invalid attempts have a status row; an accepted request has its ballot.
    auto& s = (*lease)->find_status;
    s.Bind(1, core::StatusKey(id)).Bind(2, now);
    auto row = s.Step();
    if (row && *row) {
      ports::StatusRecord rec;
      rec.law_id = std::string(s.Text(0));
      rec.status = core::ParseVoteStatus(s.Text(1)).value_or(core::VoteStatus::kPending);
      rec.attempt_count = static_cast<std::uint32_t>(s.Int(2));
      out = std::move(rec);
    }
    s.Reset();
    if (row && !out) {
      auto& b = (*lease)->find_ballot;
      b.Bind(1, core::Receipt(id));
      row = b.Step();
      if (row && *row) {
        auto expires = expires_at_.find(std::string(b.Text(0)));
        if (expires != expires_at_.end() && expires->second > now) {
          out = ports::StatusRecord{expires->first, core::VoteStatus::kAccepted, 1};
        }
      }
      b.Reset();
    }
    Release(std::move(*lease));
    if (!row) return core::Fail(row.error());
    return out;
  }

  core::Result<ports::Tally> FindTally(const std::string& law_id) override {
    auto lease = Acquire();
    if (!lease) return core::Fail(lease.error());
    auto& s = (*lease)->find_tally;
    s.Bind(1, law_id);
    auto row = s.Step();
    ports::Tally tally;
    tally.law_id = law_id;
    if (row && *row) {
      tally.oui = static_cast<std::uint64_t>(s.Int(0));
      tally.non = static_cast<std::uint64_t>(s.Int(1));
      tally.updated_at = core::ParseTimestamp(s.Text(2)).value_or(core::Timestamp{});
    }
    s.Reset();
    Release(std::move(*lease));
    if (!row) return core::Fail(row.error());
    return tally;
  }

 private:
  struct Reader {
    Connection conn;
    Statement find_status;
    Statement find_ballot;
    Statement find_tally;
  };
  using ReaderPtr = std::unique_ptr<Reader>;

  core::Result<ReaderPtr> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto r = std::move(idle_.back());
        idle_.pop_back();
        return r;
      }
    }
    auto conn = Connection::Open(file_, Connection::Mode::kReadOnly);
    if (!conn) return core::Fail(conn.error());
    auto status = conn->Prepare(
        "SELECT law_id, status, attempt_count FROM request_status "
        "WHERE status_key = ?1 AND expires_at > ?2");
    if (!status) return core::Fail(status.error());
    auto ballot = conn->Prepare("SELECT law_id FROM ballots WHERE receipt = ?1");
    if (!ballot) return core::Fail(ballot.error());
    auto tally = conn->Prepare(
        "SELECT oui_count, non_count, updated_at FROM vote_results WHERE law_id = ?1");
    if (!tally) return core::Fail(tally.error());
    return std::make_unique<Reader>(
        Reader{std::move(*conn), std::move(*status), std::move(*ballot), std::move(*tally)});
  }

  void Release(ReaderPtr r) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(r));
  }

  std::filesystem::path file_;
  const std::map<std::string, std::string> expires_at_;
  std::mutex mu_;
  std::vector<ReaderPtr> idle_;  // GUARDED_BY(mu_)
};

core::Result<std::string> ReadMeta(Connection& conn, std::string_view key) {
  auto s = conn.Prepare("SELECT value FROM scrutin_meta WHERE key = ?1");
  if (!s) return core::Fail(s.error());
  s->Bind(1, key);
  auto row = s->Step();
  if (!row) return core::Fail(row.error());
  return *row ? std::string(s->Text(0)) : std::string();
}

core::Status WriteMeta(Connection& conn, std::string_view key, std::string_view value) {
  auto s = conn.Prepare(
      "INSERT INTO scrutin_meta (key, value) VALUES (?1, ?2) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!s) return core::Fail(s.error());
  return s->Bind(1, key).Bind(2, value).Run();
}

core::Status Migrate(Connection& conn) {
  auto version = conn.Prepare("PRAGMA user_version");
  if (!version) return core::Fail(version.error());
  auto row = version->Step();
  if (!row) return core::Fail(row.error());
  int current = static_cast<int>(version->Int(0));
  version->Reset();
  if (current > kSchemaVersion) {
    return core::Fail(fmt::format(
        "the database has schema version {}, newer than this scrutin knows ({}): upgrade scrutin",
        current, kSchemaVersion));
  }
  if (current == kSchemaVersion) return {};
  if (current != 0) {
    return core::Fail(fmt::format(
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

// An exclusive lock on <db>.lock, held for the life of the store: two processes deciding votes
// against one database would each accept the same credential from their own in-memory ledger.
class DataLock {
 public:
  static core::Result<DataLock> Acquire(const std::filesystem::path& db) {
    std::string path = db.string() + ".lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return core::Fail(fmt::format("cannot create lock file {}: {}", path, std::strerror(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return core::Fail(fmt::format(
            "{} is in use by another scrutin process (it holds {}); stop it first or use another "
            "data directory",
            db.string(), path));
      }
      return core::Fail(fmt::format("cannot lock {}: {}", path, std::strerror(err)));
    }
    return DataLock(fd);
  }
  DataLock(DataLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  DataLock& operator=(DataLock&&) = delete;
  ~DataLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit DataLock(int fd) : fd_(fd) {}
  int fd_;
};

// Copies committed pages from the WAL into the database file in the background, so that the vote
// writer never pays for a checkpoint on its commit path (SQLite's automatic checkpoint would run
// inside the writer's COMMIT).
//
// Only a complete checkpoint lets SQLite rewind the log, and under a steady stream of commits a
// PASSIVE one (which never blocks anyone) never quite completes. So once the log is long enough,
// the checkpointer completes one with RESTART, which holds the writer lock while it runs. Two
// things keep that hold, and the writer's own fsyncs, short (the measurements that chose them:
// bench/RESULTS.md, "the open-loop tail found and fixed"):
//  - after every PASSIVE run, writeback of the database pages it wrote is started at once
//    (sync_file_range, which does not wait), so dirty pages never pile up. Left to pile up, they
//    would be flushed in one burst by the RESTART's fsync, under the lock (tens of ms), or by an
//    fdatasync before it (slowing every commit's own fsync while it runs);
//  - before the RESTART, an fdatasync outside any lock and one more PASSIVE run leave it only the
//    last few frames and a small fsync (~6 ms).
class Checkpointer {
 public:
  // REQUIRES: Prepare() succeeded before Start().
  explicit Checkpointer(Connection conn) : conn_(std::move(conn)) {}

  core::Status Prepare(const std::filesystem::path& file) {
    auto passive = conn_.Prepare("PRAGMA wal_checkpoint(PASSIVE)");
    if (!passive) return core::Fail(passive.error());
    auto restart = conn_.Prepare("PRAGMA wal_checkpoint(RESTART)");
    if (!restart) return core::Fail(restart.error());
    passive_ = std::move(*passive);
    restart_ = std::move(*restart);
    db_fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (db_fd_ < 0) {
      return core::Fail(fmt::format("cannot open {}: {}", file.string(), std::strerror(errno)));
    }
    return {};
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  ~Checkpointer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    (void)Checkpoint(passive_);
    if (db_fd_ >= 0) ::close(db_fd_);
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stop_; })) {
      lock.unlock();
      std::int64_t frames = Checkpoint(passive_);
      // Failures of either call only mean the RESTART below pays for more of the flush itself.
      (void)::sync_file_range(db_fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
      if (frames > kRestartFrames) {
        (void)::fdatasync(db_fd_);
        (void)Checkpoint(passive_);
        (void)Checkpoint(restart_);
      }
      lock.lock();
    }
  }

  // Frames in the log after a checkpoint (0 when it failed, e.g. busy: the next period retries).
  static std::int64_t Checkpoint(Statement& s) {
    auto row = s.Step();
    std::int64_t frames = row && *row ? s.Int(1) : 0;
    s.Reset();
    return frames;
  }

  // 128 MiB of 1 KiB pages, a RESTART every 3-4 s at 10k votes/s: each still holds the writer for
  // a few milliseconds, so rarer ones keep those stalls under 1% of votes (bench/RESULTS.md, "the
  // open-loop tail found and fixed"). The writer's journal_size_limit is above this so the log is
  // reused, not truncated and regrown.
  static constexpr std::int64_t kRestartFrames = 131072;
  Connection conn_;
  Statement passive_, restart_;
  int db_fd_ = -1;  // the database file, for fdatasync
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace

struct SqliteElectionStore::Impl {
  DataLock lock;
  Connection writer;  // used for recovery reads before it moves into the recorder
  std::unique_ptr<SqliteVoteRecorder> recorder;
  std::unique_ptr<SqliteVoteQueries> queries;
  std::unique_ptr<Checkpointer> checkpointer;  // destroyed first: stops before the recorder closes
};

SqliteElectionStore::SqliteElectionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteElectionStore::~SqliteElectionStore() = default;

core::Result<std::unique_ptr<SqliteElectionStore>> SqliteElectionStore::Open(
    const SqliteStoreOptions& options, const core::Ballot& ballot) {
  auto lock = DataLock::Acquire(options.file);
  if (!lock) return core::Fail(lock.error());
  auto conn = Connection::Open(options.file, Connection::Mode::kReadWrite);
  if (!conn) return core::Fail(conn.error());
  // WAL: readers never block the writer. synchronous=FULL for this set-up connection (the vote
  // writer's commits are synced by SqliteVoteRecorder::Sync instead). secure_delete: purged
  // statuses are overwritten, not left in free pages.
  for (std::string_view pragma :
       {"PRAGMA page_size = 1024", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
        "PRAGMA secure_delete = ON", "PRAGMA foreign_keys = ON"}) {
    if (auto st = conn->Exec(pragma); !st) {
      return core::Fail(fmt::format("cannot configure {}: {}", options.file.string(), st.error()));
    }
  }
  if (auto st = Migrate(*conn); !st) return core::Fail(st.error());

  auto recorded = ReadMeta(*conn, "eligibility_fingerprint");
  if (!recorded) return core::Fail(recorded.error());
  if (recorded->empty()) {
    if (auto st = WriteMeta(*conn, "eligibility_fingerprint", options.eligibility_fingerprint);
        !st) {
      return core::Fail(st.error());
    }
  } else if (*recorded != options.eligibility_fingerprint) {
    return core::Fail(fmt::format(
        "{} was recorded against another eligibility database; use the hash database it was "
        "created with, or a new data directory",
        options.file.string()));
  }

  // One tally row per law on the ballot, so results read zeroes before the first vote.
  auto seed = conn->Prepare(
      "INSERT INTO vote_results (law_id, updated_at) VALUES (?1, ?2) "
      "ON CONFLICT (law_id) DO NOTHING");
  if (!seed) return core::Fail(seed.error());
  std::string now = core::FormatTimestamp(core::Clock::now());
  for (const auto& law : ballot.laws()) {
    if (auto st = seed->Bind(1, law.id).Bind(2, now).Run(); !st) return core::Fail(st.error());
  }

  auto impl =
      std::make_unique<Impl>(Impl{std::move(*lock), std::move(*conn), nullptr, nullptr, nullptr});
  auto writer = Connection::Open(options.file, Connection::Mode::kReadWrite);
  if (!writer) return core::Fail(writer.error());
  // An 8 MiB page cache: a large one makes every commit slower as the file grows, because SQLite
  // scans its whole page-cache hash when the WAL is rewound (pcache1TruncateUnsafe;
  // bench/RESULTS.md, "SQLite page cache A/B"). Checkpoints run on their own connection
  // (Checkpointer).
  for (std::string_view pragma :
       {"PRAGMA synchronous = NORMAL", "PRAGMA secure_delete = ON", "PRAGMA cache_size = -8192",
        "PRAGMA wal_autocheckpoint = 0", "PRAGMA journal_size_limit = 268435456"}) {
    if (auto st = writer->Exec(pragma); !st) return core::Fail(st.error());
  }
  impl->recorder =
      std::make_unique<SqliteVoteRecorder>(std::move(*writer), ballot, options.status_retention);
  if (auto st = impl->recorder->Prepare(); !st) return core::Fail(st.error());
  if (auto st = impl->recorder->OpenLog(options.file.string() + "-wal"); !st) {
    return core::Fail(st.error());
  }
  std::map<std::string, std::string> expires_at;
  for (const auto& law : ballot.laws()) {
    expires_at[law.id] = core::FormatTimestamp(law.closes_at + options.status_retention);
  }
  impl->queries = std::make_unique<SqliteVoteQueries>(options.file, std::move(expires_at));
  auto checkpoint_conn = Connection::Open(options.file, Connection::Mode::kReadWrite);
  if (!checkpoint_conn) return core::Fail(checkpoint_conn.error());
  impl->checkpointer = std::make_unique<Checkpointer>(std::move(*checkpoint_conn));
  if (auto st = impl->checkpointer->Prepare(options.file); !st) return core::Fail(st.error());
  impl->checkpointer->Start();
  return std::unique_ptr<SqliteElectionStore>(new SqliteElectionStore(std::move(impl)));
}

ports::VoteRecorder& SqliteElectionStore::recorder() { return *impl_->recorder; }
ports::VoteQueries& SqliteElectionStore::queries() { return *impl_->queries; }

core::Status SqliteElectionStore::ForEachClaim(
    const std::function<core::Status(const core::Digest&, std::string_view)>& fn) {
  auto s = impl_->writer.Prepare(
      "SELECT vote_hash, claim_tag FROM vote_audit WHERE status = 'accepted' ORDER BY id");
  if (!s) return core::Fail(s.error());
  for (;;) {
    auto row = s->Step();
    if (!row) return core::Fail(row.error());
    if (!*row) return {};
    auto digest = core::Digest::FromHex(s->Text(0));
    if (!digest) return core::Fail(std::string("accepted_credentials holds a malformed digest"));
    if (auto st = fn(*digest, s->Text(1)); !st) return st;
  }
}

core::Status SqliteElectionStore::ForEachAttempts(
    const std::function<core::Status(const core::Digest&, std::uint32_t)>& fn) {
  auto s = impl_->writer.Prepare("SELECT vote_hash, attempt_count FROM duplicate_attempts");
  if (!s) return core::Fail(s.error());
  for (;;) {
    auto row = s->Step();
    if (!row) return core::Fail(row.error());
    if (!*row) return {};
    auto digest = core::Digest::FromHex(s->Text(0));
    if (!digest) return core::Fail(std::string("duplicate_attempts holds a malformed digest"));
    if (auto st = fn(*digest, static_cast<std::uint32_t>(s->Int(1))); !st) return st;
  }
}

}  // namespace scrutin::adapters::sqlite

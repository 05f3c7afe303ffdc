// The aggregator's recorder and the API's queries against a real PostgreSQL: exact counting,
// redelivery and overlap, concurrent aggregators, killed connections, and the audit rebuild.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "adapters/postgres/pg_schema.hpp"
#include "adapters/postgres/pg_test_support.hpp"
#include "adapters/postgres/postgres_audit.hpp"
#include "adapters/postgres/postgres_vote_queries.hpp"
#include "adapters/postgres/postgres_ballot_box.hpp"
#include "adapters/postgres/postgres_vote_recorder.hpp"
#include "ports/testing/vote_recorder_contract.hpp"

namespace scrutin::postgres {
namespace {

using core::Choice;
using core::Decision;
using core::VoteEnvelope;
using core::VoteStatus;
using testing::kLawA;
using testing::kLawB;

// Ballots cast: sealed (recorded, not mixed yet) or mixed.
constexpr const char* kBallotsCast =
    "SELECT (SELECT count(*) FROM sealed_ballots) + (SELECT count(*) FROM ballots)";

struct Expected {
  std::map<std::string, std::pair<long long, long long>> tally;  // law -> (oui, non)
  std::set<std::string> accepted;                                // digests (hex)
};

// A batch of decided votes and what recording it must count.
struct Batch {
  std::vector<VoteEnvelope> votes;
  std::vector<Decision> decisions;

  void Add(VoteEnvelope v, VoteStatus status, std::uint32_t attempts = 1) {
    votes.push_back(std::move(v));
    decisions.push_back(Decision{status, attempts, false});
  }
  Batch Slice(std::size_t from, std::size_t to) const {
    Batch b;
    b.votes.assign(votes.begin() + from, votes.begin() + to);
    b.decisions.assign(decisions.begin() + from, decisions.begin() + to);
    return b;
  }
  Expected Counted() const {
    Expected e;
    for (std::size_t i = 0; i < votes.size(); ++i) {
      if (decisions[i].status != VoteStatus::kAccepted) continue;
      if (!e.accepted.insert(votes[i].digest.ToHex()).second) continue;
      auto& t = e.tally[votes[i].law_id];
      (testing::ChoiceOf(votes[i]) == Choice::kOui ? t.first : t.second) += 1;
    }
    return e;
  }
};

// n accepted votes alternating laws and choices, then `dups` duplicates of the first accepted
// credentials and `invalid` ineligible attempts.
Batch MixedBatch(int accepted, int dups, int invalid) {
  Batch b;
  for (int i = 0; i < accepted; ++i) {
    b.Add(testing::Vote(testing::RandomDigest(), i % 2 ? kLawB : kLawA,
                        i % 3 ? Choice::kOui : Choice::kNon),
          VoteStatus::kAccepted);
  }
  for (int i = 0; i < dups; ++i) {
    const VoteEnvelope& first = b.votes[i % accepted];
    b.Add(testing::Vote(first.digest, first.law_id, Choice::kNon), VoteStatus::kDuplicate, 2);
  }
  for (int i = 0; i < invalid; ++i) {
    b.Add(testing::Vote(testing::RandomDigest(), kLawA, Choice::kOui), VoteStatus::kInvalid);
  }
  return b;
}

class PostgresRecorderTest : public testing::PgSchemaTest {
 protected:
  void SetUp() override {
    PgSchemaTest::SetUp();
    if (HasFatalFailure()) return;
    pool_ = NewPool();
    ASSERT_TRUE(Migrate(*pool_).ok());
    ASSERT_TRUE(SeedTallies(*pool_, ballot_).ok());
    recorder_ = std::make_unique<PostgresVoteRecorder>(pool_, ballot_);
    queries_ = std::make_unique<PostgresVoteQueries>(pool_);
    box_ = std::make_unique<PostgresBallotBox>(pool_);
  }

  // Mixes every sealed ballot, then checks the tallies, the ballots and the claims.
  void ExpectTallies(const Expected& e) {
    for (const char* law : {kLawA, kLawB}) {
      auto mixed = ports::testing::MixAll(*box_, law);
      ASSERT_TRUE(mixed.ok()) << mixed.error();
    }
    for (const char* law : {kLawA, kLawB}) {
      auto t = queries_->FindTally(law);
      ASSERT_TRUE(t.ok()) << t.error();
      auto it = e.tally.find(law);
      std::pair<long long, long long> want = it == e.tally.end() ? std::pair(0LL, 0LL) : it->second;
      EXPECT_EQ(static_cast<long long>(t->oui), want.first) << law;
      EXPECT_EQ(static_cast<long long>(t->non), want.second) << law;
    }
    EXPECT_EQ(Count(kBallotsCast), static_cast<long long>(e.accepted.size()));
    EXPECT_EQ(Count("SELECT count(*) FROM accepted_credentials"),
              static_cast<long long>(e.accepted.size()));
  }

  // Every table's row count and the tallies, to compare before and after a redelivery.
  std::string Snapshot() {
    return Scalar(
        "SELECT format('%s/%s/%s/%s/%s/%s', (SELECT count(*) FROM vote_audit), "
        "(SELECT count(*) FROM request_status), (SELECT count(*) FROM accepted_credentials), "
        "(SELECT count(*) FROM ballots) + (SELECT count(*) FROM sealed_ballots), (SELECT string_agg(vote_hash || attempt_count, ',' "
        "ORDER BY vote_hash) FROM duplicate_attempts), (SELECT string_agg(law_id || ':' || "
        "oui_count || ':' || non_count, ',' ORDER BY law_id) FROM vote_results))");
  }

  core::Ballot ballot_ = testing::TwoLaws();
  PgPoolPtr pool_;
  std::unique_ptr<PostgresVoteRecorder> recorder_;
  std::unique_ptr<PostgresVoteQueries> queries_;
  std::unique_ptr<PostgresBallotBox> box_;
};

TEST_F(PostgresRecorderTest, RecordsABatchExactly) {
  Batch b = MixedBatch(60, 25, 15);
  auto summary = recorder_->RecordBatch(b.votes, b.decisions);
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(summary->audit_rows, 100);
  EXPECT_EQ(summary->attempts, 1);
  Expected e = b.Counted();
  ExpectTallies(e);
  EXPECT_EQ(summary->sealed[kLawA] + summary->sealed[kLawB], 60);

  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 100);
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit WHERE status = 'accepted'"), 60);
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit WHERE status = 'duplicate'"), 25);
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit WHERE status = 'invalid'"), 15);
  EXPECT_EQ(Count("SELECT count(*) FROM request_status"), 100);
  EXPECT_EQ(Count("SELECT count(*) FROM duplicate_attempts WHERE attempt_count = 2"), 25);

  // Statuses as GET /api/v1/vote/{id} reports them.
  auto accepted = queries_->FindStatus(b.votes[0].request_id);
  ASSERT_TRUE(accepted.ok()) << accepted.error();
  ASSERT_TRUE(accepted->has_value());
  EXPECT_EQ((*accepted)->status, VoteStatus::kAccepted);
  EXPECT_EQ((*accepted)->law_id, b.votes[0].law_id);
  auto duplicate = queries_->FindStatus(b.votes[60].request_id);
  ASSERT_TRUE(duplicate.ok() && duplicate->has_value());
  EXPECT_EQ((*duplicate)->status, VoteStatus::kDuplicate);
  EXPECT_EQ((*duplicate)->attempt_count, 2u);
  auto unknown = queries_->FindStatus(core::RequestId::Generate());
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());

  // Once mixed, the voter's receipt is among the counted ones, and no ballot holds it.
  EXPECT_EQ(Scalar("SELECT count(*) FROM receipts WHERE receipt = '" +
                   core::Receipt(b.votes[0].request_id) + "'"),
            "1");
  EXPECT_EQ(Count("SELECT count(*) FROM sealed_ballots"), 0);
  auto tally = queries_->FindTally(kLawA);
  ASSERT_TRUE(tally.ok());
  EXPECT_LT(core::Clock::now() - tally->updated_at, std::chrono::minutes(1));

  // Several laws in one read (what the api's tally cache does): the same tallies, in the order
  // asked, zeroes for a law without a row.
  auto all = queries_->FindTallies({kLawB, "Z9999-999", kLawA});
  ASSERT_TRUE(all.ok()) << all.error();
  ASSERT_EQ(all->size(), 3u);
  auto b_alone = queries_->FindTally(kLawB);
  ASSERT_TRUE(b_alone.ok());
  EXPECT_EQ((*all)[0].law_id, kLawB);
  EXPECT_EQ(std::make_pair((*all)[0].oui, (*all)[0].non),
            std::make_pair(b_alone->oui, b_alone->non));
  EXPECT_EQ((*all)[1].law_id, "Z9999-999");
  EXPECT_EQ((*all)[1].oui + (*all)[1].non, 0u);
  EXPECT_EQ(std::make_pair((*all)[2].oui, (*all)[2].non), std::make_pair(tally->oui, tally->non));
  EXPECT_EQ((*all)[2].updated_at, tally->updated_at);
}

// That a redelivered batch counts nothing twice is VoteRecorderContract's (below); here, that it
// changes no row of any table and reports nothing counted.
TEST_F(PostgresRecorderTest, TheSameBatchTwiceChangesNoRow) {
  Batch b = MixedBatch(50, 20, 10);
  ASSERT_TRUE(recorder_->Record(b.votes, b.decisions).ok());
  std::string before = Snapshot();
  auto again = recorder_->RecordBatch(b.votes, b.decisions);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->sealed.empty());
  EXPECT_EQ(again->audit_rows, 0);
  EXPECT_EQ(Snapshot(), before);
  ExpectTallies(b.Counted());
}

TEST_F(PostgresRecorderTest, OverlappingBatchesCountOnlyTheNewVotes) {
  Batch all = MixedBatch(100, 0, 0);
  Batch first = all.Slice(0, 60), second = all.Slice(30, 100);
  ASSERT_TRUE(recorder_->Record(first.votes, first.decisions).ok());
  auto summary = recorder_->RecordBatch(second.votes, second.decisions);
  ASSERT_TRUE(summary.ok()) << summary.error();
  std::int64_t counted = 0;
  for (const auto& [law, n] : summary->sealed) counted += n;
  EXPECT_EQ(counted, 40);
  EXPECT_EQ(summary->audit_rows, 40);
  ExpectTallies(all.Counted());
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 100);
}

TEST_F(PostgresRecorderTest, TheSameVoteTwiceInOneBatchCountsOnce) {
  Batch b = MixedBatch(10, 0, 0);
  b.votes.push_back(b.votes[3]);  // a redelivered message landing in the same batch
  b.decisions.push_back(Decision{VoteStatus::kAccepted, 1, true});
  ASSERT_TRUE(recorder_->Record(b.votes, b.decisions).ok());
  ExpectTallies(b.Counted());
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 10);
}

// The validator claimed in Redis, then crashed before the aggregator saw the vote: the redelivery
// is decided as a replay, and PostgreSQL, which never saw it, must count it (once).
TEST_F(PostgresRecorderTest, AReplayNotYetInPostgresIsCountedOnce) {
  Batch b = MixedBatch(5, 0, 0);
  for (auto& d : b.decisions) d.replay = true;
  ASSERT_TRUE(recorder_->Record(b.votes, b.decisions).ok());
  ASSERT_TRUE(recorder_->Record(b.votes, b.decisions).ok());
  ExpectTallies(b.Counted());
}

TEST_F(PostgresRecorderTest, DuplicateAttemptsKeepTheHighestCount) {
  auto digest = testing::RandomDigest();
  Batch first;
  first.Add(testing::Vote(digest, kLawA, Choice::kOui), VoteStatus::kAccepted);
  first.Add(testing::Vote(digest, kLawA, Choice::kNon), VoteStatus::kDuplicate, 2);
  ASSERT_TRUE(recorder_->Record(first.votes, first.decisions).ok());
  Batch later;  // two more attempts in one batch, out of order
  later.Add(testing::Vote(digest, kLawA, Choice::kNon), VoteStatus::kDuplicate, 4);
  later.Add(testing::Vote(digest, kLawA, Choice::kNon), VoteStatus::kDuplicate, 3);
  ASSERT_TRUE(recorder_->Record(later.votes, later.decisions).ok());
  ASSERT_TRUE(recorder_->Record(first.votes, first.decisions).ok());  // a late redelivery
  EXPECT_EQ(Count("SELECT attempt_count FROM duplicate_attempts"), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM duplicate_attempts"), 1);
  EXPECT_EQ(Scalar("SELECT first_attempt <= last_attempt FROM duplicate_attempts"), "t");
  ExpectTallies(first.Counted());
}

// Redis lost a claim (a restart that lost its last second, a failover): the validator accepts a
// second request for a credential PostgreSQL already counted. PostgreSQL is the record: that
// request is recorded and answered as a duplicate, with no ballot and the audit's attempt count;
// its redelivery is answered the same; the holder's own redelivery, which the ledger now calls a
// duplicate, stays accepted.
TEST_F(PostgresRecorderTest, PostgresIsTheRecordWhenTheLedgerLostAClaim) {
  const auto digest = testing::RandomDigest();
  Batch first;
  first.Add(testing::Vote(digest, kLawA, Choice::kOui), VoteStatus::kAccepted);
  ASSERT_TRUE(recorder_->Record(first.votes, first.decisions).ok());
  EXPECT_EQ(first.decisions[0].status, VoteStatus::kAccepted);
  const std::string tallies = Scalar(
      "SELECT string_agg(law_id || ':' || oui_count || ':' || non_count, ',' ORDER BY law_id) "
      "FROM vote_results");

  Batch second;  // the ledger, without the claim, accepts another request with the other choice
  second.Add(testing::Vote(digest, kLawA, Choice::kNon), VoteStatus::kAccepted);
  auto summary = recorder_->RecordBatch(second.votes, second.decisions);
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(summary->corrected, 1);
  EXPECT_TRUE(summary->sealed.empty());
  EXPECT_EQ(second.decisions[0].status, VoteStatus::kDuplicate);
  EXPECT_EQ(second.decisions[0].attempt_count, 2u);
  auto status = queries_->FindStatus(second.votes[0].request_id);
  ASSERT_TRUE(status.ok()) << status.error();
  ASSERT_TRUE(status->has_value());
  EXPECT_EQ((*status)->status, VoteStatus::kDuplicate);
  EXPECT_EQ((*status)->attempt_count, 2u);
  EXPECT_EQ(Count(kBallotsCast), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit WHERE status = 'duplicate' AND "
                  "attempt_count = 2"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM duplicate_attempts WHERE attempt_count = 2"), 1);
  EXPECT_EQ(Scalar("SELECT string_agg(law_id || ':' || oui_count || ':' || non_count, ',' "
                   "ORDER BY law_id) FROM vote_results"),
            tallies);

  // Its redelivery, still "accepted" by the ledger: the same answer, nothing changes.
  const std::string before = Snapshot();
  second.decisions[0] = Decision{VoteStatus::kAccepted, 1, true};
  ASSERT_TRUE(recorder_->Record(second.votes, second.decisions).ok());
  EXPECT_EQ(second.decisions[0].status, VoteStatus::kDuplicate);
  EXPECT_EQ(second.decisions[0].attempt_count, 2u);
  EXPECT_EQ(Snapshot(), before);

  // A third attempt the ledger also gets wrong: the third attempt.
  Batch third;
  third.Add(testing::Vote(digest, kLawA, Choice::kNon), VoteStatus::kAccepted);
  ASSERT_TRUE(recorder_->Record(third.votes, third.decisions).ok());
  EXPECT_EQ(third.decisions[0].status, VoteStatus::kDuplicate);
  EXPECT_EQ(third.decisions[0].attempt_count, 3u);

  // The holder's message delivered again, which the ledger (now holding another claim) calls a
  // duplicate: PostgreSQL recorded it accepted, so it stays accepted.
  first.decisions[0] = Decision{VoteStatus::kDuplicate, 4, false};
  ASSERT_TRUE(recorder_->Record(first.votes, first.decisions).ok());
  EXPECT_EQ(first.decisions[0].status, VoteStatus::kAccepted);
  EXPECT_EQ(Count(kBallotsCast), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 3);
}

// A duplicate whose holder reached PostgreSQL with the same claim tag is the holder itself: the
// ledger that lost and re-made claims calls it a duplicate, PostgreSQL says accepted (no new row).
TEST_F(PostgresRecorderTest, ADuplicateFromTheClaimsOwnRequestIsAccepted) {
  const auto digest = testing::RandomDigest();
  Batch first;
  first.Add(testing::Vote(digest, kLawB, Choice::kOui), VoteStatus::kAccepted);
  ASSERT_TRUE(recorder_->Record(first.votes, first.decisions).ok());
  // The same request under a new audit key cannot exist; remove its audit row to reach the
  // "claim held, request not audited" path a partial restore could leave.
  ASSERT_TRUE(AdminExec("DELETE FROM " + schema_ + ".vote_audit"));
  first.decisions[0] = Decision{VoteStatus::kDuplicate, 2, false};
  ASSERT_TRUE(recorder_->Record(first.votes, first.decisions).ok());
  EXPECT_EQ(first.decisions[0].status, VoteStatus::kAccepted);
  EXPECT_TRUE(first.decisions[0].replay);
  EXPECT_EQ(Count(kBallotsCast), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit WHERE status = 'accepted'"), 1);
}

TEST_F(PostgresRecorderTest, RefusesWhatItCannotRecordAndWritesNothing) {
  Batch b = MixedBatch(3, 0, 0);
  b.Add(testing::Vote(testing::RandomDigest(), "L2099-999", Choice::kOui), VoteStatus::kAccepted);
  auto st = recorder_->Record(b.votes, b.decisions);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kRefused) << st.error();
  EXPECT_NE(st.error().find("L2099-999 is not on the ballot"), std::string::npos) << st.error();
  Batch pending = MixedBatch(2, 0, 0);
  pending.decisions[1].status = VoteStatus::kPending;
  EXPECT_FALSE(recorder_->Record(pending.votes, pending.decisions).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 0);
  EXPECT_TRUE(recorder_->Record({}, {}).ok());
}

TEST_F(PostgresRecorderTest, ExpiredStatusesArePurgedAndNotServed) {
  std::vector<core::Law> laws = testing::TwoLaws().laws();
  for (auto& law : laws) law.closes_at = core::Clock::now() - std::chrono::hours(2);
  PostgresRecorderOptions options;
  options.status_retention = std::chrono::hours(1);
  PostgresVoteRecorder recorder(pool_, core::Ballot(laws), options);
  Batch b = MixedBatch(2, 0, 0);
  ASSERT_TRUE(recorder.Record(b.votes, b.decisions).ok());
  // The first batch of a recorder purges expired statuses (then at most once a minute).
  EXPECT_EQ(Count("SELECT count(*) FROM request_status"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 2);  // the audit is kept

  // An expired status not yet purged is not served either.
  auto id = core::RequestId::Generate();
  ASSERT_TRUE(AdminExec("INSERT INTO " + schema_ + ".request_status VALUES ('" +
                        core::StatusKey(id) +
                        "', 'L2025-001', 'accepted', 1, now() - interval '1 second')"));
  auto status = queries_->FindStatus(id);
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_FALSE(status->has_value());
  ASSERT_TRUE(AdminExec("UPDATE " + schema_ +
                        ".request_status SET expires_at = now() + interval '1 hour'"));
  status = queries_->FindStatus(id);
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_TRUE(status->has_value());
}

// Four aggregators (each its own pool, like separate processes) record interleaved batches that
// share votes, concurrently: every vote is counted exactly once and nobody deadlocks for good.
TEST_F(PostgresRecorderTest, ConcurrentAggregatorsWithSharedVotesStayExact) {
  constexpr int kAggregators = 4;
  constexpr int kVotes = 2000;
  constexpr std::size_t kBatch = 50;
  Batch all = MixedBatch(kVotes - 200, 100, 100);
  std::vector<std::string> errors(kAggregators);
  std::atomic<int> retried{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kAggregators; ++t) {
    threads.emplace_back([&, t] {
      auto pool = NewPool(2);
      PostgresVoteRecorder recorder(pool, ballot_);
      // Its own share of the votes, plus about half of everyone else's (redeliveries), shuffled.
      std::vector<std::size_t> order;
      std::mt19937_64 rng(t * 7919 + 1);
      for (std::size_t i = 0; i < all.votes.size(); ++i) {
        if (static_cast<int>(i % kAggregators) == t || rng() % 2 == 0) order.push_back(i);
      }
      std::shuffle(order.begin(), order.end(), rng);
      for (std::size_t from = 0; from < order.size(); from += kBatch) {
        Batch b;
        for (std::size_t j = from; j < std::min(order.size(), from + kBatch); ++j) {
          b.votes.push_back(all.votes[order[j]]);
          b.decisions.push_back(all.decisions[order[j]]);
        }
        auto summary = recorder.RecordBatch(b.votes, b.decisions);
        if (!summary) {
          errors[t] = summary.error();
          return;
        }
        if (summary->attempts > 1) ++retried;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  ExpectTallies(all.Counted());
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), kVotes);
  EXPECT_EQ(Count("SELECT count(*) FROM request_status"), kVotes);
  EXPECT_EQ(Count("SELECT count(*) FROM duplicate_attempts"), 100);
  std::printf("[ info ] %d of the batches needed a retry\n", retried.load());
}

TEST_F(PostgresRecorderTest, KilledConnectionIsRetriedOnAFreshOne) {
  Batch all = MixedBatch(40, 5, 5);
  Batch first = all.Slice(0, 20), second = all.Slice(20, 50);
  ASSERT_TRUE(recorder_->Record(first.votes, first.decisions).ok());
  ASSERT_GE(KillBackends(), 1);
  auto summary = recorder_->RecordBatch(second.votes, second.decisions);
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(summary->attempts, 2);  // the pooled connection was dead; the retry used a new one
  ExpectTallies(all.Counted());
}

TEST_F(PostgresRecorderTest, KilledConnectionErrorsThenRecovers) {
  PostgresRecorderOptions options;
  options.max_attempts = 1;
  PostgresVoteRecorder recorder(pool_, ballot_, options);
  Batch all = MixedBatch(40, 0, 0);
  Batch first = all.Slice(0, 20), second = all.Slice(20, 40);
  ASSERT_TRUE(recorder.Record(first.votes, first.decisions).ok());
  ASSERT_GE(KillBackends(), 1);
  auto st = recorder.Record(second.votes, second.decisions);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kUnavailable) << st.error();
  EXPECT_NE(st.error().find("terminating connection"), std::string::npos) << st.error();
  EXPECT_EQ(Count(kBallotsCast), 20);
  // The aggregator retries the batch it did not ack: it is counted, once.
  ASSERT_TRUE(recorder.Record(second.votes, second.decisions).ok());
  ASSERT_TRUE(recorder.Record(second.votes, second.decisions).ok());
  ExpectTallies(all.Counted());
}

// Backends killed at random moments while batches are in flight (mid-transaction, at COMMIT):
// every failed batch is retried by the caller, and the totals come out exact.
TEST_F(PostgresRecorderTest, BackendsKilledMidRunLoseAndDoubleNothing) {
  PostgresRecorderOptions options;
  options.max_attempts = 1;  // let the failures reach the caller
  PostgresVoteRecorder recorder(pool_, ballot_, options);
  Batch all = MixedBatch(1500, 100, 100);
  std::atomic<bool> done{false};
  std::atomic<long long> killed{0};
  std::thread killer([&] {
    std::mt19937 rng(42);
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + rng() % 50));
      killed += KillBackends();
    }
  });
  int failures = 0;
  for (std::size_t from = 0; from < all.votes.size(); from += 50) {
    Batch b = all.Slice(from, std::min(all.votes.size(), from + 50));
    int tries = 0;
    for (core::Status st; !(st = recorder.Record(b.votes, b.decisions)).ok();) {
      ++failures;
      ASSERT_LT(++tries, 500) << "batch never recorded: " << st.error();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  done = true;
  killer.join();
  std::printf("[ info ] %lld backends killed, %d batch failures\n", killed.load(), failures);
  EXPECT_GT(killed.load(), 0);
  ExpectTallies(all.Counted());
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 1700);
}

TEST_F(PostgresRecorderTest, AuditRebuildEqualsTheAcceptedSetAndBallotsRecount) {
  Batch all = MixedBatch(300, 80, 40);
  for (std::size_t from = 0; from < all.votes.size(); from += 70) {
    Batch b = all.Slice(from, std::min(all.votes.size(), from + 70));
    ASSERT_TRUE(recorder_->Record(b.votes, b.decisions).ok());
    ASSERT_TRUE(recorder_->Record(b.votes, b.decisions).ok());  // every batch redelivered
  }
  Expected e = all.Counted();
  std::set<std::string> from_audit, recorded;
  ASSERT_TRUE(ForEachAcceptedInAudit(*pool_, [&](const core::Digest& d) -> core::Status {
                from_audit.insert(d.ToHex());
                return {};
              }).ok());
  ASSERT_TRUE(ForEachAcceptedCredential(*pool_,
                                        [&](const core::Digest& d, std::string_view law,
                                            std::string_view tag) -> core::Status {
                                          EXPECT_EQ(tag.size(), 32u);
                                          EXPECT_TRUE(law == kLawA || law == kLawB);
                                          recorded.insert(d.ToHex());
                                          return {};
                                        })
                  .ok());
  EXPECT_EQ(from_audit, e.accepted);
  EXPECT_EQ(recorded, e.accepted);

  auto recount = RecountBallots(*pool_);
  ASSERT_TRUE(recount.ok()) << recount.error();
  for (const char* law : {kLawA, kLawB}) {
    auto tally = queries_->FindTally(law);
    ASSERT_TRUE(tally.ok());
    EXPECT_EQ((*recount)[law].oui, static_cast<std::int64_t>(tally->oui)) << law;
    EXPECT_EQ((*recount)[law].non, static_cast<std::int64_t>(tally->non)) << law;
  }

  // A callback's error stops the walk and is returned.
  int seen = 0;
  auto st = ForEachAcceptedInAudit(*pool_, [&](const core::Digest&) -> core::Status {
    return ++seen == 3 ? core::Status(core::Fail(std::string("enough"))) : core::Status();
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error(), "enough");
  EXPECT_EQ(seen, 3);
}

// Not a benchmark (bench/ has those): full batches of 100 recorded back to back, one at a time
// and then three in flight (one recorder shared by three threads, as an aggregator may run it),
// stay exact; the rates are printed for the record (commits share WAL flushes when concurrent).
TEST_F(PostgresRecorderTest, FullBatchesBackToBackAndInFlight) {
  Batch all = MixedBatch(8000, 1000, 1000);
  Expected expected = all.Counted();
  auto run = [&](std::size_t from, std::size_t to, int in_flight) {
    std::atomic<std::size_t> next{from};
    std::atomic<int> failures{0};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < in_flight; ++t) {
      threads.emplace_back([&] {
        for (std::size_t at = next.fetch_add(100); at < to; at = next.fetch_add(100)) {
          Batch b = all.Slice(at, std::min(to, at + 100));
          if (!recorder_->Record(b.votes, b.decisions).ok()) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ info ] %zu votes in batches of 100, %d in flight: %.0f votes/s\n", to - from,
                in_flight, (to - from) / seconds);
    EXPECT_EQ(failures.load(), 0);
  };
  // Accepted votes come first in `all`, duplicates and invalid ones last: split so both runs mix.
  Batch shuffled = all;
  std::vector<std::size_t> order(all.votes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), testing::Rng());
  for (std::size_t i = 0; i < order.size(); ++i) {
    shuffled.votes[i] = all.votes[order[i]];
    shuffled.decisions[i] = all.decisions[order[i]];
  }
  all = std::move(shuffled);
  run(0, 4000, 1);
  run(4000, all.votes.size(), 3);
  ExpectTallies(expected);
  EXPECT_EQ(Count("SELECT count(*) FROM vote_audit"), 10000);
}

TEST_F(PostgresRecorderTest, QueriesReportAnUnreachableDatabase) {
  auto options = Options();
  options.url = "postgresql://scrutin:x@127.0.0.1:1/scrutin";
  auto pool = *PgPool::Create(options);
  PostgresVoteQueries queries(pool);
  auto tally = queries.FindTally(kLawA);
  ASSERT_FALSE(tally.ok());
  EXPECT_NE(tally.error().find("cannot read the results"), std::string::npos) << tally.error();
}

// The VoteRecorder contract (ports/testing/vote_recorder_contract.cpp): each store is a schema of
// its own in the fixture's database, migrated and seeded for the ballot, dropped afterwards.
class PostgresUnderTest final : public ports::testing::RecorderUnderTest {
 public:
  static std::unique_ptr<ports::testing::RecorderUnderTest> Make(const core::Ballot& ballot) {
    auto self = std::make_unique<PostgresUnderTest>();
    std::string url = scrutin::testing::ServerSetting("pg", "PG_URL");
    if (url.empty()) {
      ADD_FAILURE() << scrutin::testing::ServerHint("pg", "PG_URL");
      return nullptr;
    }
    self->schema_ = "c" + std::to_string(testing::Rng()() % 1000000000000ULL);
    PgPoolOptions options;
    options.url = url;
    options.max_connections = 2;
    options.acquire_timeout = std::chrono::milliseconds(3000);
    options.session.application_name = "scrutin-test-contract";
    auto admin = PgPool::Create(options);
    if (!admin.ok()) {
      ADD_FAILURE() << admin.error();
      return nullptr;
    }
    self->admin_ = *admin;
    if (!self->AdminExec("CREATE SCHEMA " + self->schema_)) return nullptr;
    options.session.search_path = self->schema_;
    auto pool = PgPool::Create(options);
    if (!pool.ok()) {
      ADD_FAILURE() << pool.error();
      return nullptr;
    }
    if (auto st = Migrate(**pool); !st.ok()) {
      ADD_FAILURE() << st.error();
      return nullptr;
    }
    if (auto st = SeedTallies(**pool, ballot); !st.ok()) {
      ADD_FAILURE() << st.error();
      return nullptr;
    }
    self->recorder_ = std::make_unique<PostgresVoteRecorder>(*pool, ballot);
    self->queries_ = std::make_unique<PostgresVoteQueries>(*pool);
    self->box_ = std::make_unique<PostgresBallotBox>(*pool);
    self->schedule_ = std::make_unique<PostgresLawSchedule>(*pool);
    return self;
  }
  ~PostgresUnderTest() override {
    recorder_.reset();
    queries_.reset();
    if (admin_ && !schema_.empty())
      (void)AdminExec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  ports::VoteRecorder& recorder() override { return *recorder_; }
  ports::VoteQueries& queries() override { return *queries_; }
  ports::BallotBox& box() override { return *box_; }
  ports::LawSchedule* schedule() override { return schedule_.get(); }

 private:
  bool AdminExec(const std::string& sql) { return testing::ExecAsAdmin(*admin_, sql); }

  std::string schema_;
  PgPoolPtr admin_;
  std::unique_ptr<PostgresVoteRecorder> recorder_;
  std::unique_ptr<PostgresVoteQueries> queries_;
  std::unique_ptr<PostgresBallotBox> box_;
  std::unique_ptr<PostgresLawSchedule> schedule_;
};

using ports::testing::VoteRecorderContract;
INSTANTIATE_TEST_SUITE_P(Postgres, VoteRecorderContract,
                         ::testing::Values(ports::testing::RecorderFactory{
                             "Postgres", &PostgresUnderTest::Make}),
                         ports::testing::FactoryName<ports::testing::RecorderFactory>);

}  // namespace
}  // namespace scrutin::postgres

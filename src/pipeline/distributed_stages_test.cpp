// The distributed shape's pipeline pieces over in-memory fakes: ValidationStage (decide, then
// publish; failures leave the batch unacknowledged and a redelivery is a replay; no status is
// written there), AggregationStage (record, then write the recorder's final decisions as the
// statuses), PendingStatusIntake (pending written before the vote is handed on) and
// SplitVoteQueries.
#include <gtest/gtest.h>

#include <future>
#include <map>

#include "core/failpoint.hpp"
#include "core/mutex.hpp"
#include "core/request_id.hpp"
#include "pipeline/aggregation_stage.hpp"
#include "pipeline/pending_status_intake.hpp"
#include "pipeline/split_vote_queries.hpp"
#include "pipeline/validation_stage.hpp"
#include "ports/testing/fake_credential_ledger.hpp"
#include "ports/testing/fake_decision_publisher.hpp"
#include "ports/testing/fake_status_writer.hpp"
#include "ports/testing/fake_vote_intake.hpp"
#include "ports/testing/fake_vote_queries.hpp"
#include "ports/testing/fake_vote_recorder.hpp"
#include "ports/testing/contract_votes.hpp"

namespace scrutin::pipeline {
namespace {

using Kind = ports::IntakeResult::Kind;
using std::chrono::hours;

// The shared in-memory ledger keeps claim tags, so a redelivered request is kReplayed (as Redis's
// is). A digest is eligible when its first byte is non-zero.
using ReplayLedger = ports::testing::FakeCredentialLedger;

// Records the order of events across the fakes.
struct Journal {
  core::Mutex mu;
  std::vector<std::string> events;
  void Add(std::string e) {
    core::MutexLock lock(mu);
    events.push_back(std::move(e));
  }
};

// The shared status writer, journalling each successful write as "pending" or "final".
class FakeStatuses : public ports::testing::FakeStatusWriter {
 public:
  explicit FakeStatuses(Journal& j)
      : FakeStatusWriter(
            [&j](bool only_if_absent) { j.Add(only_if_absent ? "pending" : "final"); }) {}
  // The update written for the vote `v`. REQUIRES: one was written.
  ports::StatusUpdate At(const core::VoteEnvelope& v) const { return *Update(v.request_id); }
};

core::Ballot TestBallot() {
  core::Law law;
  law.id = "L2026-001";
  law.title_fr = "fr";
  law.title_en = "en";
  law.opens_at = core::Clock::now() - hours(24);
  law.closes_at = core::Clock::now() + hours(24);
  return core::Ballot({law});
}

core::VoteEnvelope Vote(std::uint8_t voter, core::Choice choice = core::Choice::kOui) {
  core::VoteEnvelope v;
  v.request_id = core::RequestId::Generate();
  v.digest.bytes[0] = voter;
  v.digest.bytes[1] = 0x5a;
  v.law_id = "L2026-001";
  v.ballot = ports::testing::TestSealer().Seal(v.law_id, choice, core::Receipt(v.request_id)).value();
  v.received_at = core::Clock::now();
  return v;
}

class ValidationStageTest : public ::testing::Test {
 protected:
  Journal journal;
  ReplayLedger ledger;
  // The shared fake publisher; each successful publish is journalled.
  ports::testing::FakeDecisionPublisher publisher{[this] { journal.Add("publish"); }};
  int listened = 0;
  ValidationStage stage{ledger, publisher,
                        [this](auto votes, auto) { listened += static_cast<int>(votes.size()); }};
};

TEST_F(ValidationStageTest, DecidesThenPublishesAndWritesNoStatus) {
  std::vector<core::VoteEnvelope> votes = {Vote(1), Vote(1, core::Choice::kNon), Vote(0), Vote(2)};
  std::vector<core::Decision> decisions(votes.size());
  ASSERT_TRUE(stage.Process(votes, decisions).ok());
  EXPECT_EQ(decisions[0].status, core::VoteStatus::kAccepted);
  EXPECT_EQ(decisions[1].status, core::VoteStatus::kDuplicate);
  EXPECT_EQ(decisions[1].attempt_count, 2u);
  EXPECT_EQ(decisions[2].status, core::VoteStatus::kInvalid);
  EXPECT_EQ(decisions[3].status, core::VoteStatus::kAccepted);
  // Only the publish: the voter's status waits for the record (AggregationStage).
  EXPECT_EQ(journal.events, (std::vector<std::string>{"publish"}));
  ASSERT_EQ(publisher.published.size(), 4u);
  EXPECT_EQ(publisher.published[1].second.status, core::VoteStatus::kDuplicate);
  EXPECT_EQ(publisher.published[1].second.attempt_count, 2u);
  EXPECT_EQ(listened, 4);
}

TEST_F(ValidationStageTest, BrokerFailureIsAnErrorAndRedeliveryIsAReplayNotADuplicate) {
  std::vector<core::VoteEnvelope> votes = {Vote(7)};
  std::vector<core::Decision> decisions(1);
  publisher.fail = true;
  auto st = stage.Process(votes, decisions);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kUnavailable);
  EXPECT_NE(st.error().find("broker down"), std::string::npos);
  EXPECT_TRUE(publisher.published.empty());
  EXPECT_EQ(listened, 0);

  // The same message delivered again (same request id): accepted, flagged as a replay.
  publisher.fail = false;
  ASSERT_TRUE(stage.Process(votes, decisions).ok());
  EXPECT_EQ(decisions[0].status, core::VoteStatus::kAccepted);
  EXPECT_TRUE(decisions[0].replay);
  // A new request for the same credential is a duplicate.
  std::vector<core::VoteEnvelope> again = {Vote(7)};
  ASSERT_TRUE(stage.Process(again, decisions).ok());
  EXPECT_EQ(decisions[0].status, core::VoteStatus::kDuplicate);
}

TEST_F(ValidationStageTest, LedgerFailureIsAnErrorWithItsCodeAndPublishesNothing) {
  std::vector<core::VoteEnvelope> votes = {Vote(3)};
  std::vector<core::Decision> decisions(1);
  ledger.fail = true;
  auto st = stage.Process(votes, decisions);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ledger.fail_code);
  EXPECT_TRUE(publisher.published.empty());
  EXPECT_EQ(listened, 0);
}

// The shared in-memory record: it holds the credentials it recorded, so it corrects a decision
// as PostgreSQL does (HoldForAnother: a credential held for another request).
class FakeRecorder : public ports::testing::FakeVoteRecorder {
 public:
  FakeRecorder() : FakeVoteRecorder({"L2026-001"}) {}
};

TEST(AggregationStageTest, RecordsDecidedBatchesAndRefusesPendingOnes) {
  FakeRecorder recorder;
  std::size_t listened = 0;
  const core::Ballot ballot = TestBallot();
  AggregationStage stage(recorder, nullptr, nullptr, ballot, hours(1),
                         [&](auto votes, auto) { listened += votes.size(); });
  std::vector<core::VoteEnvelope> votes = {Vote(1), Vote(2)};
  std::vector<core::Decision> decisions(2);
  decisions[0].status = core::VoteStatus::kAccepted;
  decisions[1].status = core::VoteStatus::kPending;
  auto pending = stage.Process(votes, decisions);
  ASSERT_FALSE(pending.ok());
  EXPECT_EQ(pending.code(), core::ErrorCode::kRefused);
  EXPECT_EQ(recorder.recorded(), 0u);
  decisions[1].status = core::VoteStatus::kInvalid;
  recorder.set_fail(true);
  auto st = stage.Process(votes, decisions);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kUnavailable);
  EXPECT_NE(st.error().find("disk full"), std::string::npos);
  EXPECT_EQ(listened, 0u);
  recorder.set_fail(false);
  ASSERT_TRUE(stage.Process(votes, decisions).ok());
  EXPECT_EQ(recorder.recorded(), 2u);
  EXPECT_EQ(listened, 2u);
}

TEST(AggregationStageTest, WritesTheRecordedDecisionsAsStatusesAfterTheRecord) {
  Journal journal;
  FakeRecorder recorder;
  recorder.HoldForAnother(Vote(9).digest, "L2026-001");  // voter 9's, for another request
  FakeStatuses statuses(journal);
  const core::Ballot ballot = TestBallot();
  std::vector<core::Decision> listened;
  AggregationStage stage(recorder, &statuses, nullptr, ballot, hours(48),
                         [&](auto, auto ds) { listened.assign(ds.begin(), ds.end()); });
  std::vector<core::VoteEnvelope> votes = {Vote(1), Vote(9), Vote(0)};
  std::vector<core::Decision> decisions = {{core::VoteStatus::kAccepted, 1, false},
                                           {core::VoteStatus::kAccepted, 1, false},
                                           {core::VoteStatus::kInvalid, 1, false}};
  // The status store failing after the record: an error, so the batch comes back.
  statuses.set_fail(true);
  auto st = stage.Process(votes, decisions);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kUnavailable);
  EXPECT_NE(st.error().find("statuses"), std::string::npos);
  EXPECT_TRUE(listened.empty());

  statuses.set_fail(false);
  decisions = {{core::VoteStatus::kAccepted, 1, false},
               {core::VoteStatus::kAccepted, 1, false},
               {core::VoteStatus::kInvalid, 1, false}};
  ASSERT_TRUE(stage.Process(votes, decisions).ok());
  EXPECT_EQ(decisions[1].status, core::VoteStatus::kDuplicate);
  auto status_of = [&](std::size_t i) { return statuses.At(votes[i]); };
  EXPECT_EQ(status_of(0).record.status, core::VoteStatus::kAccepted);
  // The voter is told what the record says, never the ledger's accepted.
  EXPECT_EQ(status_of(1).record.status, core::VoteStatus::kDuplicate);
  EXPECT_EQ(status_of(1).record.attempt_count, 2u);
  EXPECT_EQ(status_of(2).record.status, core::VoteStatus::kInvalid);
  EXPECT_EQ(status_of(2).record.law_id, "L2026-001");
  EXPECT_EQ(status_of(2).expires_at, ballot.laws()[0].closes_at + hours(48));
  ASSERT_EQ(listened.size(), 3u);
  EXPECT_EQ(listened[1].status, core::VoteStatus::kDuplicate);
}

// A mirror that journals the claims it is asked to re-assert.
class FakeMirror : public ports::ClaimMirror {
 public:
  explicit FakeMirror(Journal& j) : journal(j) {}
  core::Result<ports::MirrorReport> Reassert(std::span<const ports::ClaimRequest> in) override {
    if (fail) return core::Fail(core::ErrorCode::kUnavailable, std::string("redis down"));
    claims.assign(in.begin(), in.end());
    journal.Add("mirror");
    ports::MirrorReport r;
    r.restored = in.size();
    return r;
  }
  Journal& journal;
  bool fail = false;
  std::vector<ports::ClaimRequest> claims;
};

TEST(AggregationStageTest, ReassertsTheRecordedClaimsBeforeTellingTheVoters) {
  Journal journal;
  FakeRecorder recorder;
  recorder.HoldForAnother(Vote(9).digest, "L2026-001");
  FakeStatuses statuses(journal);
  FakeMirror mirror(journal);
  const core::Ballot ballot = TestBallot();
  AggregationStage stage(recorder, &statuses, &mirror, ballot, hours(48));
  std::vector<core::VoteEnvelope> votes = {Vote(1), Vote(9), Vote(0), Vote(2)};
  auto decide = [] {
    return std::vector<core::Decision>{{core::VoteStatus::kAccepted, 1, false},
                                       {core::VoteStatus::kAccepted, 1, false},
                                       {core::VoteStatus::kInvalid, 1, false},
                                       {core::VoteStatus::kAccepted, 1, true}};
  };
  // The mirror failing after the record: an error, and no voter is told anything yet.
  mirror.fail = true;
  auto decisions = decide();
  auto st = stage.Process(votes, decisions);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kUnavailable);
  EXPECT_NE(st.error().find("ledger"), std::string::npos);
  EXPECT_EQ(statuses.size(), 0u);

  mirror.fail = false;
  decisions = decide();
  ASSERT_TRUE(stage.Process(votes, decisions).ok());
  // Only the claims the record holds: voter 9's was refused (held by another request), the
  // invalid vote claims nothing; a replay (voter 2) is re-asserted like a first claim.
  ASSERT_EQ(mirror.claims.size(), 2u);
  EXPECT_EQ(mirror.claims[0].digest, votes[0].digest);
  EXPECT_EQ(mirror.claims[0].claim_tag, core::ClaimTag(votes[0].request_id));
  EXPECT_EQ(mirror.claims[1].digest, votes[3].digest);
  EXPECT_EQ(journal.events, (std::vector<std::string>{"mirror", "final"}));
  EXPECT_EQ(stage.mirrored().restored, 2u);
}

// The inner intake: the shared fake, answering at once, noting whether each vote's pending status
// existed when the vote reached it.
struct FakeInner {
  explicit FakeInner(FakeStatuses& statuses)
      : intake(/*inline_answers=*/true, [this, &statuses](const core::VoteEnvelope& v) {
          saw_pending_first = saw_pending_first && statuses.Update(v.request_id).has_value();
        }) {
    intake.set_health({{"queue", true, "ok"}});
  }
  std::atomic<bool> saw_pending_first{true};
  ports::testing::FakeVoteIntake intake;
};

Kind SubmitAndWait(ports::VoteIntake& intake, core::VoteEnvelope v) {
  std::promise<Kind> p;
  auto f = p.get_future();
  intake.Submit(std::move(v), [&](ports::IntakeResult r) { p.set_value(r.kind); });
  return f.get();
}

TEST(PendingStatusIntakeTest, WritesPendingBeforeHandingOnAndKeepsFinalStatuses) {
  Journal journal;
  FakeStatuses statuses(journal);
  FakeInner inner(statuses);
  core::Ballot ballot = TestBallot();
  PendingStatusIntake intake(inner.intake, statuses, ballot, {});
  auto v = Vote(1);
  EXPECT_EQ(SubmitAndWait(intake, v), Kind::kDurable);
  EXPECT_TRUE(inner.saw_pending_first);
  EXPECT_EQ(statuses.At(v).record.status, core::VoteStatus::kPending);

  // A final status written first (a fast validator) is not overwritten by pending.
  auto w = Vote(2);
  ports::StatusUpdate final_status{w.request_id, {"L2026-001", core::VoteStatus::kAccepted, 1}};
  ASSERT_TRUE(statuses.Write({&final_status, 1}, false).ok());
  EXPECT_EQ(SubmitAndWait(intake, w), Kind::kDurable);
  EXPECT_EQ(statuses.At(w).record.status, core::VoteStatus::kAccepted);

  inner.intake.set_mode(ports::testing::FakeVoteIntake::Mode::kUnavailable);
  EXPECT_EQ(SubmitAndWait(intake, Vote(3)), Kind::kUnavailable);
}

TEST(PendingStatusIntakeTest, StatusStoreDownAnswersUnavailableWithoutHandingOn) {
  Journal journal;
  FakeStatuses statuses(journal);
  FakeInner inner(statuses);
  core::Ballot ballot = TestBallot();
  PendingStatusIntake intake(inner.intake, statuses, ballot, {}, {[] {
                               return ports::HealthCheck{"store", false, "down"};
                             }});
  statuses.set_fail(true);
  EXPECT_EQ(SubmitAndWait(intake, Vote(1)), Kind::kUnavailable);
  EXPECT_EQ(inner.intake.count(), 0u);
  auto checks = intake.Health();
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name, "queue");
  EXPECT_EQ(checks[1].name, "store");
  EXPECT_FALSE(checks[1].ok);
  intake.Stop();
  EXPECT_EQ(SubmitAndWait(intake, Vote(2)), Kind::kUnavailable);
}

TEST(PendingStatusIntakeTest, BoundedQueueAnswersOverloaded) {
  Journal journal;
  FakeStatuses unused(journal);
  FakeInner inner(unused);
  // A status writer that blocks until released, to fill the queue.
  ports::testing::FakeStatusWriter statuses;
  statuses.Hold(true);
  core::Ballot ballot = TestBallot();
  PendingStatusIntakeOptions options;
  options.threads = 1;
  options.max_batch = 1;
  options.max_queue = 2;
  PendingStatusIntake intake(inner.intake, statuses, ballot, options);
  std::atomic<int> durable{0};
  auto count = [&](ports::IntakeResult r) { durable += r.kind == Kind::kDurable; };
  intake.Submit(Vote(1), count);
  statuses.WaitEntered(1);
  intake.Submit(Vote(2), count);
  intake.Submit(Vote(3), count);
  EXPECT_EQ(SubmitAndWait(intake, Vote(4)), Kind::kOverloaded);
  statuses.Hold(false);
  intake.Stop();
  EXPECT_EQ(durable.load(), 3);
}

TEST(SplitVoteQueriesTest, StatusesFromOneTalliesFromTheOther) {
  Journal journal;
  FakeStatuses statuses(journal);
  ports::testing::FakeVoteQueries tallies;
  tallies.SetTally({"L2026-001", 3, 4, {}});
  SplitVoteQueries q(statuses, tallies);
  auto v = Vote(1);
  ports::StatusUpdate u{v.request_id, {"L2026-001", core::VoteStatus::kInvalid, 1}};
  ASSERT_TRUE(statuses.Write({&u, 1}, false).ok());
  auto found = q.FindStatus(v.request_id);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->status, core::VoteStatus::kInvalid);
  auto tally = q.FindTally("L2026-001");
  ASSERT_TRUE(tally.ok());
  EXPECT_EQ(tally->oui, 3u);
  EXPECT_EQ(tally->non, 4u);
}

}  // namespace
}  // namespace scrutin::pipeline

namespace scrutin::core {
namespace {

// The chaos tests' hook: SIGKILL on the N-th hit of the armed point, nothing for other points.
// "threadsafe" death tests re-run the binary, so the child reads SCRUTIN_FAILPOINT afresh.
TEST(FailpointDeathTest, KillsOnTheNthHitOfTheArmedPointOnly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("SCRUTIN_FAILPOINT", "test.point@3", 1);
        Failpoint("test.point");
        Failpoint("test.other");
        Failpoint("test.point");
        std::fprintf(stderr, "survived two hits\n");
        Failpoint("test.point");
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "survived two hits");
  EXPECT_EXIT(
      {
        setenv("SCRUTIN_FAILPOINT", "test.point@x", 1);  // malformed: arms nothing
        Failpoint("test.point");
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace scrutin::core

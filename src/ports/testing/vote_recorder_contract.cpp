// What every VoteRecorder must do, whatever it writes to (ports/vote_recorder.hpp).
#include "ports/testing/vote_recorder_contract.hpp"

#include <chrono>
#include <vector>

#include "core/request_id.hpp"
#include "core/sealed_ballot.hpp"
#include "ports/testing/contract_votes.hpp"

namespace scrutin::ports::testing {
namespace {

using core::Choice;
using core::VoteStatus;

// Two laws, open from an hour ago to a year from now, results live.
core::Ballot TwoLaws() {
  auto now = core::Clock::now();
  std::vector<core::Law> laws;
  for (const char* id : {"L2025-001", "L2025-002"}) {
    laws.push_back(core::Law{id, "Loi", "Act", now - std::chrono::hours(1),
                             now + std::chrono::hours(24 * 365), core::ResultsPolicy::kLive});
  }
  return core::Ballot(std::move(laws));
}

}  // namespace

// Every adapter's test binary links all the contract suites and instantiates only its port's.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(VoteRecorderContract);

void VoteRecorderContract::SetUp() {
  ballot_ = TwoLaws();
  store_ = GetParam().make(ballot_);
  ASSERT_NE(store_, nullptr) << GetParam().name << ": no store";
}

core::VoteEnvelope VoteRecorderContract::Vote(const core::Digest& digest, const char* law,
                                              Choice choice) {
  return MakeVote(digest, law, choice);
}

core::Decision VoteRecorderContract::Decided(VoteStatus status, std::uint32_t attempts,
                                             bool replay) {
  return MakeDecision(status, attempts, replay);
}

std::pair<long long, long long> VoteRecorderContract::TallyOf(const char* law) {
  auto mixed = MixAll(store_->box(), law);
  EXPECT_TRUE(mixed.ok()) << mixed.error();
  if (!mixed.ok()) return {-1, -1};
  return UnmixedTallyOf(law);
}

std::pair<long long, long long> VoteRecorderContract::UnmixedTallyOf(const char* law) {
  auto t = store_->queries().FindTally(law);
  EXPECT_TRUE(t.ok()) << t.error();
  if (!t.ok()) return {-1, -1};
  EXPECT_EQ(t->law_id, law);
  return {static_cast<long long>(t->oui), static_cast<long long>(t->non)};
}

TEST_P(VoteRecorderContract, RecordsTalliesAndAStatusPerVote) {
  auto d = RandomDigests(4);
  std::vector<core::VoteEnvelope> votes = {
      Vote(d[0], kLawA, Choice::kOui), Vote(d[1], kLawA, Choice::kNon),
      Vote(d[2], kLawB, Choice::kOui), Vote(d[0], kLawA, Choice::kNon),
      Vote(d[3], kLawA, Choice::kOui)};
  std::vector<core::Decision> decisions = {
      Decided(VoteStatus::kAccepted), Decided(VoteStatus::kAccepted),
      Decided(VoteStatus::kAccepted), Decided(VoteStatus::kDuplicate, 2),
      Decided(VoteStatus::kInvalid)};
  auto st = store_->recorder().Record(votes, decisions);
  ASSERT_TRUE(st.ok()) << st.error();

  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 1LL));
  EXPECT_EQ(TallyOf(kLawB), std::make_pair(1LL, 0LL));

  auto accepted = store_->queries().FindStatus(votes[0].request_id);
  ASSERT_TRUE(accepted.ok()) << accepted.error();
  ASSERT_TRUE(accepted->has_value());
  EXPECT_EQ((*accepted)->status, VoteStatus::kAccepted);
  EXPECT_EQ((*accepted)->law_id, kLawA);
  EXPECT_EQ((*accepted)->attempt_count, 1u);

  auto duplicate = store_->queries().FindStatus(votes[3].request_id);
  ASSERT_TRUE(duplicate.ok()) << duplicate.error();
  ASSERT_TRUE(duplicate->has_value());
  EXPECT_EQ((*duplicate)->status, VoteStatus::kDuplicate);
  EXPECT_EQ((*duplicate)->attempt_count, 2u);
  EXPECT_EQ((*duplicate)->law_id, kLawA);

  auto invalid = store_->queries().FindStatus(votes[4].request_id);
  ASSERT_TRUE(invalid.ok() && invalid->has_value());
  EXPECT_EQ((*invalid)->status, VoteStatus::kInvalid);

  auto unknown = store_->queries().FindStatus(core::RequestId::Generate());
  ASSERT_TRUE(unknown.ok()) << unknown.error();
  EXPECT_FALSE(unknown->has_value());
}

TEST_P(VoteRecorderContract, TheSameBatchTwiceCountsNothingTwice) {
  auto d = RandomDigests(3);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], kLawA, Choice::kOui),
                                           Vote(d[1], kLawB, Choice::kNon),
                                           Vote(d[0], kLawA, Choice::kNon)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kDuplicate, 2)};
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  // Redelivered as it was, then as the validator decides a redelivery (flagged replays).
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  decisions = {Decided(VoteStatus::kAccepted, 1, true), Decided(VoteStatus::kAccepted, 1, true),
               Decided(VoteStatus::kDuplicate, 2)};
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 0LL));
  EXPECT_EQ(TallyOf(kLawB), std::make_pair(0LL, 1LL));
  auto duplicate = store_->queries().FindStatus(votes[2].request_id);
  ASSERT_TRUE(duplicate.ok() && duplicate->has_value());
  EXPECT_EQ((*duplicate)->attempt_count, 2u);
}

TEST_P(VoteRecorderContract, OverlappingBatchesCountOnlyTheNewVotes) {
  auto d = RandomDigests(100);
  std::vector<core::VoteEnvelope> votes;
  for (int i = 0; i < 100; ++i) {
    votes.push_back(Vote(d[i], i % 2 ? kLawB : kLawA, i % 3 ? Choice::kOui : Choice::kNon));
  }
  std::vector<core::Decision> decisions(100, Decided(VoteStatus::kAccepted));
  std::span<const core::VoteEnvelope> all(votes);
  std::span<core::Decision> all_decisions(decisions);
  ASSERT_TRUE(store_->recorder().Record(all.subspan(0, 60), all_decisions.subspan(0, 60)).ok());
  ASSERT_TRUE(store_->recorder().Record(all.subspan(30, 70), all_decisions.subspan(30, 70)).ok());
  long long oui_a = 0, non_a = 0, oui_b = 0, non_b = 0;
  for (int i = 0; i < 100; ++i) {
    bool oui = i % 3 != 0;
    if (i % 2) {
      (oui ? oui_b : non_b) += 1;
    } else {
      (oui ? oui_a : non_a) += 1;
    }
  }
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(oui_a, non_a));
  EXPECT_EQ(TallyOf(kLawB), std::make_pair(oui_b, non_b));
}

TEST_P(VoteRecorderContract, TheSameVoteTwiceInOneBatchCountsOnce) {
  auto d = RandomDigests(2);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], kLawA, Choice::kOui),
                                           Vote(d[1], kLawA, Choice::kNon)};
  votes.push_back(votes[0]);  // a redelivered message landing in the same batch
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kAccepted),
                                           Decided(VoteStatus::kAccepted, 1, true)};
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 1LL));
}

// The validator claimed the credential, then crashed before the recorder saw the vote: the
// redelivery is decided as a replay, and a store that never saw it must count it, once.
TEST_P(VoteRecorderContract, AReplayNotYetRecordedIsCountedOnce) {
  auto d = RandomDigests(2);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], kLawA, Choice::kOui),
                                           Vote(d[1], kLawB, Choice::kOui)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted, 1, true),
                                           Decided(VoteStatus::kAccepted, 1, true)};
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 0LL));
  EXPECT_EQ(TallyOf(kLawB), std::make_pair(1LL, 0LL));
}

TEST_P(VoteRecorderContract, ABatchWithALawNotOnTheBallotIsRefusedWhole) {
  auto d = RandomDigests(3);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], kLawA, Choice::kOui),
                                           Vote(d[1], kLawB, Choice::kNon),
                                           Vote(d[2], "L2099-999", Choice::kOui)};
  std::vector<core::Decision> decisions(3, Decided(VoteStatus::kAccepted));
  auto st = store_->recorder().Record(votes, decisions);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kRefused) << st.error();
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(0LL, 0LL));
  EXPECT_EQ(TallyOf(kLawB), std::make_pair(0LL, 0LL));
  auto status = store_->queries().FindStatus(votes[0].request_id);
  ASSERT_TRUE(status.ok()) << status.error();
  EXPECT_FALSE(status->has_value());
  // The store goes on: the same votes without the stranger are recorded.
  std::span<const core::VoteEnvelope> valid(votes.data(), 2);
  std::span<core::Decision> valid_decisions(decisions.data(), 2);
  ASSERT_TRUE(store_->recorder().Record(valid, valid_decisions).ok());
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 0LL));
}

TEST_P(VoteRecorderContract, AnEmptyBatchSucceeds) {
  EXPECT_TRUE(store_->recorder().Record({}, {}).ok());
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(0LL, 0LL));
}

TEST_P(VoteRecorderContract, SyncMakesEveryRecordedBatchDurable) {
  auto d = RandomDigests(1);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], kLawB, Choice::kNon)};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted)};
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  auto st = store_->recorder().Sync();
  EXPECT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(TallyOf(kLawB), std::make_pair(0LL, 1LL));
}

// The claim's transaction counts nothing: the ballot waits sealed until a mix.
TEST_P(VoteRecorderContract, RecordingSealsAndTheMixCounts) {
  auto d = RandomDigests(3);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], kLawA, Choice::kOui),
                                           Vote(d[1], kLawA, Choice::kNon),
                                           Vote(d[2], kLawA, Choice::kNon)};
  std::vector<core::Decision> decisions(3, Decided(VoteStatus::kAccepted));
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  EXPECT_EQ(UnmixedTallyOf(kLawA), std::make_pair(0LL, 0LL));
  auto tally = store_->queries().FindTally(kLawA);
  ASSERT_TRUE(tally.ok()) << tally.error();
  EXPECT_EQ(tally->sealed, 3u);
  auto counts = store_->box().Counts(kLawA);
  ASSERT_TRUE(counts.ok()) << counts.error();
  EXPECT_EQ(counts->sealed, 3u);
  EXPECT_EQ(counts->ballots, 0u);
  auto before = store_->queries().FindReceipt(core::Receipt(votes[1].request_id));
  ASSERT_TRUE(before.ok()) << before.error();
  EXPECT_FALSE(before->has_value()) << "a receipt counted before its ballot was mixed";
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 2LL));
  tally = store_->queries().FindTally(kLawA);
  ASSERT_TRUE(tally.ok()) << tally.error();
  EXPECT_EQ(tally->sealed, 0u);
  for (const auto& v : votes) {
    auto found = store_->queries().FindReceipt(core::Receipt(v.request_id));
    ASSERT_TRUE(found.ok()) << found.error();
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ(**found, kLawA);
  }
  auto unknown = store_->queries().FindReceipt(core::Receipt(core::RequestId::Generate()));
  ASSERT_TRUE(unknown.ok()) << unknown.error();
  EXPECT_FALSE(unknown->has_value());
}

// A redelivery that arrives after its ballot was mixed finds nothing sealed to match: the store
// must still know the request (or the claim) and count nothing again.
TEST_P(VoteRecorderContract, ARedeliveryAfterTheMixCountsNothingTwice) {
  auto d = RandomDigests(2);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], kLawA, Choice::kOui),
                                           Vote(d[1], kLawB, Choice::kNon)};
  std::vector<core::Decision> decisions(2, Decided(VoteStatus::kAccepted));
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 0LL));
  EXPECT_EQ(TallyOf(kLawB), std::make_pair(0LL, 1LL));
  decisions = {Decided(VoteStatus::kAccepted, 1, true), Decided(VoteStatus::kAccepted, 1, true)};
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 0LL));
  EXPECT_EQ(TallyOf(kLawB), std::make_pair(0LL, 1LL));
  auto status = store_->queries().FindStatus(votes[0].request_id);
  ASSERT_TRUE(status.ok() && status->has_value());
  EXPECT_EQ((*status)->status, VoteStatus::kAccepted);
}

// All but `keep`, at most `max_group`, at least `min_group`; each group is counted whole.
TEST_P(VoteRecorderContract, TheMixRuleKeepsBallotsBack) {
  auto d = RandomDigests(7);
  std::vector<core::VoteEnvelope> votes;
  for (int i = 0; i < 7; ++i) votes.push_back(Vote(d[i], kLawA, i < 4 ? Choice::kOui : Choice::kNon));
  std::vector<core::Decision> decisions(7, Decided(VoteStatus::kAccepted));
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  auto& box = store_->box();
  const MixRule three_keep_three{.keep = 3, .min_group = 3, .max_group = 3};
  auto mixed = box.Mix(kLawA, three_keep_three, TestOpener(kLawA));
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(mixed->mixed, 3u);
  EXPECT_EQ(mixed->waiting, 7u);
  mixed = box.Mix(kLawA, three_keep_three, TestOpener(kLawA));  // 4 wait: 3 + 3 do not
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(mixed->mixed, 0u);
  EXPECT_EQ(mixed->waiting, 4u);
  auto tally = UnmixedTallyOf(kLawA);
  EXPECT_EQ(tally.first + tally.second, 3);
  mixed = box.Mix(kLawA, MixRule{}, TestOpener(kLawA));
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(mixed->mixed, 4u);
  EXPECT_EQ(UnmixedTallyOf(kLawA), std::make_pair(4LL, 3LL));
  mixed = box.Mix(kLawA, MixRule{}, TestOpener(kLawA));
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_EQ(mixed->mixed, 0u) << "nothing waits";
  EXPECT_EQ(mixed->waiting, 0u);
  auto counts = box.Counts(kLawA);
  ASSERT_TRUE(counts.ok()) << counts.error();
  EXPECT_EQ(counts->sealed, 0u);
  EXPECT_EQ(counts->ballots, 7u);
  EXPECT_EQ(counts->receipts, 7u);
  EXPECT_EQ(counts->groups, 2u);
  EXPECT_EQ(counts->smallest_group, 3u);
  auto other = box.Counts(kLawB);
  ASSERT_TRUE(other.ok()) << other.error();
  EXPECT_EQ(other->ballots + other->sealed + other->groups, 0u);
}

// An opener that fails (a ballot the key does not open) leaves everything as it was.
TEST_P(VoteRecorderContract, AFailedOpenChangesNothing) {
  auto d = RandomDigests(2);
  std::vector<core::VoteEnvelope> votes = {Vote(d[0], kLawA, Choice::kOui),
                                           Vote(d[1], kLawA, Choice::kNon)};
  std::vector<core::Decision> decisions(2, Decided(VoteStatus::kAccepted));
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  auto refuse = [](std::span<const core::SealedBallot>) -> core::Result<OpenedGroup> {
    return core::Fail(core::ErrorCode::kCorrupt, std::string("does not open"));
  };
  auto mixed = store_->box().Mix(kLawA, MixRule{}, refuse);
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.code(), core::ErrorCode::kCorrupt) << mixed.error();
  auto counts = store_->box().Counts(kLawA);
  ASSERT_TRUE(counts.ok()) << counts.error();
  EXPECT_EQ(counts->sealed, 2u);
  EXPECT_EQ(counts->ballots, 0u);
  EXPECT_EQ(counts->groups, 0u);
  EXPECT_EQ(TallyOf(kLawA), std::make_pair(1LL, 1LL)) << "the ballots are still there to mix";
}

// A sealed ballot opens only for its own law: one moved to another law is refused whole.
TEST_P(VoteRecorderContract, ABallotSealedForAnotherLawDoesNotOpen) {
  auto d = RandomDigests(1);
  auto vote = Vote(d[0], kLawA, Choice::kOui);
  vote.ballot = TestSealer().Seal(kLawB, Choice::kNon, core::Receipt(vote.request_id)).value();
  std::vector<core::VoteEnvelope> votes = {vote};
  std::vector<core::Decision> decisions = {Decided(VoteStatus::kAccepted)};
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  auto mixed = MixAll(store_->box(), kLawA);
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(UnmixedTallyOf(kLawA), std::make_pair(0LL, 0LL));
}

}  // namespace scrutin::ports::testing

namespace scrutin::ports::testing {

// The record's inputs are counted each from its own store, the first record stored wins, and a
// law whose record is stored is never mixed again.
TEST_P(VoteRecorderContract, TheRecordIsReadFromEveryStoreAndStoredOnce) {
  auto d = RandomDigests(4);
  std::vector<core::VoteEnvelope> votes = {
      Vote(d[0], kLawA, Choice::kOui), Vote(d[1], kLawA, Choice::kNon),
      Vote(d[2], kLawA, Choice::kOui), Vote(d[0], kLawA, Choice::kNon),
      Vote(d[3], kLawB, Choice::kOui)};
  std::vector<core::Decision> decisions = {
      Decided(VoteStatus::kAccepted), Decided(VoteStatus::kAccepted),
      Decided(VoteStatus::kAccepted), Decided(VoteStatus::kDuplicate, 2),
      Decided(VoteStatus::kAccepted)};
  ASSERT_TRUE(store_->recorder().Record(votes, decisions).ok());
  ASSERT_EQ(TallyOf(kLawA), std::make_pair(2LL, 1LL));

  auto source = store_->box().ReadRecordSource(kLawA);
  ASSERT_TRUE(source.ok()) << source.error();
  EXPECT_EQ(source->counts.accepted, 3u);
  EXPECT_EQ(source->counts.claims, 3u);
  EXPECT_EQ(source->counts.ballots, 3u);
  EXPECT_EQ(source->counts.receipts, 3u);
  EXPECT_EQ(source->counts.tallied, 3u);
  EXPECT_EQ(source->oui, 2u);
  EXPECT_EQ(source->non, 1u);
  EXPECT_EQ(source->receipt_lines, 3u);
  std::vector<std::string> receipts;
  for (int i = 0; i < 3; ++i) receipts.push_back(core::Receipt(votes[i].request_id));
  EXPECT_EQ(source->receipts_text, core::ReceiptsText(receipts)) << "sorted bytewise, one a line";

  auto none = store_->box().FindRecord(kLawA);
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_FALSE(none->has_value());
  const core::Timestamp closes = ballot_.Find(kLawA)->ClosesAt();
  auto first =
      store_->box().SaveRecord(kLawA, closes, core::PublishedRecord{"{\"first\":1}", "A\n"});
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(first->has_value());
  auto second =
      store_->box().SaveRecord(kLawA, closes, core::PublishedRecord{"{\"second\":2}", "B\n"});
  ASSERT_TRUE(second.ok()) << second.error();
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->record, "{\"first\":1}") << "the first record stored wins";
  auto served = store_->queries().FindRecord(kLawA);
  ASSERT_TRUE(served.ok()) << served.error();
  ASSERT_TRUE(served->has_value());
  EXPECT_EQ((*served)->record, "{\"first\":1}");
  EXPECT_EQ((*served)->receipts, "A\n");
  auto other = store_->queries().FindRecord(kLawB);
  ASSERT_TRUE(other.ok()) << other.error();
  EXPECT_FALSE(other->has_value());

  // A ballot recorded after the record stays sealed.
  auto late = RandomDigests(1);
  std::vector<core::VoteEnvelope> after = {Vote(late[0], kLawA, Choice::kOui)};
  std::vector<core::Decision> accepted = {Decided(VoteStatus::kAccepted)};
  ASSERT_TRUE(store_->recorder().Record(after, accepted).ok());
  auto mixed = store_->box().Mix(kLawA, MixRule{}, TestOpener(kLawA));
  ASSERT_TRUE(mixed.ok()) << mixed.error();
  EXPECT_TRUE(mixed->record_sealed);
  EXPECT_EQ(mixed->mixed, 0u);
  EXPECT_EQ(UnmixedTallyOf(kLawA), std::make_pair(2LL, 1LL));
  EXPECT_EQ(store_->queries().FindTally(kLawA)->sealed, 1u);
}

}  // namespace scrutin::ports::testing

namespace scrutin::ports::testing {

// A close moved on the admin port and the record agree: a record built for another closing time
// is not stored, and once a record is stored the close no longer moves.
TEST_P(VoteRecorderContract, ARecordAndAMovedCloseAgree) {
  LawSchedule* schedule = store_->schedule();
  if (schedule == nullptr) GTEST_SKIP() << GetParam().name << " keeps no schedule";
  const core::Timestamp configured = ballot_.Find(kLawA)->ClosesAt();
  const core::Timestamp moved = *core::ParseTimestamp(
      core::FormatTimestamp(core::Clock::now() - std::chrono::seconds(30)));
  ASSERT_TRUE(schedule->Set(kLawA, AdminAction::kClose, configured, moved).ok());
  auto loaded = schedule->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].law_id, kLawA);
  EXPECT_EQ((*loaded)[0].closes_at, moved);

  auto stale = store_->box().SaveRecord(kLawA, configured, core::PublishedRecord{"{}", ""});
  ASSERT_TRUE(stale.ok()) << stale.error();
  EXPECT_FALSE(stale->has_value()) << "a record for the configured close, after the close moved";
  auto fresh = store_->box().SaveRecord(kLawA, moved, core::PublishedRecord{"{\"r\":1}", ""});
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  ASSERT_TRUE(fresh->has_value());

  auto refused = schedule->Set(kLawA, AdminAction::kExtend, moved,
                               core::Clock::now() + std::chrono::hours(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), core::ErrorCode::kRefused);
  EXPECT_EQ((*schedule->Load())[0].closes_at, moved) << "the sealed law's close did not move";
  // Another law still moves.
  EXPECT_TRUE(schedule->Set(kLawB, AdminAction::kExtend, configured,
                            configured + std::chrono::hours(1)).ok());
}

}  // namespace scrutin::ports::testing

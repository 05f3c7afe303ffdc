#include "pipeline/batching_intake.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <set>
#include <thread>

#include "core/mutex.hpp"
#include "core/request_id.hpp"
#include "ports/testing/fake_credential_ledger.hpp"
#include "ports/testing/fake_vote_recorder.hpp"

namespace scrutin::pipeline {
namespace {

using Kind = ports::IntakeResult::Kind;

// The shared in-memory ledger: a digest is eligible when its first byte is non-zero.
using TestLedger = ports::testing::FakeCredentialLedger;

// The shared in-memory record, for the one law of these votes; DeferredSyncRecorder commits
// without syncing, and its Sync() waits until the test calls OpenSyncs().
struct TestRecorder : ports::testing::FakeVoteRecorder {
  TestRecorder() : FakeVoteRecorder({"L2025-001"}) {}
};
struct DeferredSyncRecorder : ports::testing::FakeVoteRecorder {
  DeferredSyncRecorder() : FakeVoteRecorder({"L2025-001"}, /*defer_sync=*/true) {}
};

core::VoteEnvelope Vote(std::uint8_t first_byte, std::uint8_t second_byte = 0) {
  core::VoteEnvelope v;
  v.request_id = core::RequestId::Generate();
  v.digest.bytes[0] = first_byte;
  v.digest.bytes[1] = second_byte;
  v.law_id = "L2025-001";
  return v;
}

ports::IntakeResult SubmitAndWait(BatchingVoteIntake& intake, core::VoteEnvelope v) {
  std::promise<ports::IntakeResult> p;
  auto f = p.get_future();
  intake.Submit(std::move(v), [&](ports::IntakeResult r) { p.set_value(r); });
  return f.get();
}

TEST(BatchingIntakeTest, AnswersOnlyAfterRecordingWithTheDecision) {
  TestLedger ledger;
  TestRecorder recorder;
  BatchingVoteIntake intake(ledger, recorder, {});
  auto r = SubmitAndWait(intake, Vote(1));
  EXPECT_EQ(r.kind, Kind::kDurable);
  EXPECT_EQ(r.decision.status, core::VoteStatus::kAccepted);
  EXPECT_EQ(recorder.recorded(), 1u);
  r = SubmitAndWait(intake, Vote(1));
  EXPECT_EQ(r.decision.status, core::VoteStatus::kDuplicate);
  EXPECT_EQ(r.decision.attempt_count, 2u);
  r = SubmitAndWait(intake, Vote(0));
  EXPECT_EQ(r.decision.status, core::VoteStatus::kInvalid);
}

// on_idle runs when no vote came for idle_tick (serve's mixer rounds for closed laws), on the
// writer thread, and votes keep flowing around it.
TEST(BatchingIntakeTest, IdleTicksRunWhenNoVoteComes) {
  TestLedger ledger;
  TestRecorder recorder;
  std::atomic<int> ticks{0};
  BatchingIntakeOptions options;
  options.idle_tick = std::chrono::milliseconds(10);
  options.on_idle = [&] { ++ticks; };
  BatchingVoteIntake intake(ledger, recorder, options);
  EXPECT_EQ(SubmitAndWait(intake, Vote(1)).kind, Kind::kDurable);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ticks.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(ticks.load(), 3);
  EXPECT_EQ(SubmitAndWait(intake, Vote(2)).kind, Kind::kDurable) << "votes still flow";
  EXPECT_EQ(recorder.recorded(), 2u);
}

TEST(BatchingIntakeTest, FailedCommitAnswersUnavailableAndForgetsTheClaims) {
  TestLedger ledger;
  TestRecorder recorder;
  BatchingVoteIntake intake(ledger, recorder, {});
  recorder.set_fail(true);
  auto r = SubmitAndWait(intake, Vote(5));
  EXPECT_EQ(r.kind, Kind::kUnavailable);
  EXPECT_GE(r.retry_after.count(), 1);
  auto health = intake.Health();
  EXPECT_FALSE(health[0].ok);
  EXPECT_EQ(health[0].detail, "disk full");
  recorder.set_fail(false);
  // The retried vote is a first vote, not a duplicate of the lost one.
  r = SubmitAndWait(intake, Vote(5));
  EXPECT_EQ(r.kind, Kind::kDurable);
  EXPECT_EQ(r.decision.status, core::VoteStatus::kAccepted);
  EXPECT_TRUE(intake.Health()[0].ok);
}

TEST(BatchingIntakeTest, ConcurrentSubmittersShareBatchesAndEveryoneIsAnswered) {
  TestLedger ledger;
  TestRecorder recorder;
  BatchingVoteIntake intake(ledger, recorder, {.max_batch = 64});
  constexpr int kThreads = 8, kPerThread = 500;
  std::atomic<int> accepted{0}, answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = SubmitAndWait(
            intake, Vote(static_cast<std::uint8_t>(1 + t), static_cast<std::uint8_t>(i % 250)));
        ++answered;
        if (r.decision.status == core::VoteStatus::kAccepted) ++accepted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(answered.load(), kThreads * kPerThread);
  EXPECT_EQ(accepted.load(), kThreads * 250);  // 250 distinct digests per thread
  for (auto size : recorder.batches()) EXPECT_LE(size, 64u);
}

TEST(BatchingIntakeTest, FullQueueAnswersOverloaded) {
  TestLedger ledger;
  TestRecorder recorder;
  core::Mutex gate;
  gate.lock();  // holds the writer inside the first batch's listener
  BatchingVoteIntake intake(ledger, recorder, {.max_batch = 1, .max_queue = 2},
                            [&](auto, auto, auto) {
                              gate.lock();
                              gate.Unlock();
                            });
  std::atomic<int> done{0};
  auto count = [&](ports::IntakeResult) { ++done; };
  intake.Submit(Vote(1), count);  // taken by the writer, which then blocks
  while (intake.queue_depth() != 0) std::this_thread::yield();
  intake.Submit(Vote(2), count);
  intake.Submit(Vote(3), count);
  auto r = SubmitAndWait(intake, Vote(4));
  EXPECT_EQ(r.kind, Kind::kOverloaded);
  gate.Unlock();
  intake.Stop();
  EXPECT_EQ(done.load(), 3);
}

TEST(BatchingIntakeTest, AnswersOnlyAfterTheSyncThatCoversTheBatch) {
  TestLedger ledger;
  DeferredSyncRecorder recorder;
  BatchingVoteIntake intake(ledger, recorder, {});
  std::promise<ports::IntakeResult> answer;
  intake.Submit(Vote(1), [&](ports::IntakeResult r) { answer.set_value(r); });
  recorder.WaitSyncsStarted(1);
  EXPECT_EQ(recorder.recorded(), 1u);  // committed...
  auto future = answer.get_future();
  // ...but not answered while its sync is in progress.
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  // The writer goes on recording meanwhile: a second vote is committed before the first's sync.
  std::promise<ports::IntakeResult> second;
  intake.Submit(Vote(2), [&](ports::IntakeResult r) { second.set_value(r); });
  recorder.WaitRecorded(2);
  recorder.OpenSyncs();
  auto r = future.get();
  EXPECT_EQ(r.kind, Kind::kDurable);
  EXPECT_EQ(r.decision.status, core::VoteStatus::kAccepted);
  EXPECT_EQ(second.get_future().get().kind, Kind::kDurable);
  EXPECT_EQ(recorder.synced(), 2u);  // every answered vote was covered by a completed sync
}

TEST(BatchingIntakeDeathTest, FailedSyncStopsTheProcessWithoutAnswering) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        TestLedger ledger;
        DeferredSyncRecorder recorder;
        recorder.set_fail_sync(true);
        BatchingVoteIntake intake(ledger, recorder, {});
        intake.Submit(Vote(1), [](ports::IntakeResult) { std::fprintf(stderr, "answered\n"); });
        intake.Stop();
      },
      "could not sync recorded votes \\(EIO\\)");
}

TEST(BatchingIntakeTest, StopDrainsTheQueueThenRefuses) {
  TestLedger ledger;
  TestRecorder recorder;
  BatchingVoteIntake intake(ledger, recorder, {});
  std::atomic<int> durable{0};
  for (int i = 1; i <= 100; ++i) {
    intake.Submit(Vote(static_cast<std::uint8_t>(i)), [&](ports::IntakeResult r) {
      if (r.kind == Kind::kDurable) ++durable;
    });
  }
  intake.Stop();
  EXPECT_EQ(durable.load(), 100);
  EXPECT_EQ(SubmitAndWait(intake, Vote(200)).kind, Kind::kUnavailable);
}

}  // namespace
}  // namespace scrutin::pipeline

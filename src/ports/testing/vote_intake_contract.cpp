// What every VoteIntake must do (ports/vote_intake.hpp).
#include "ports/testing/vote_intake_contract.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace scrutin::ports::testing {

// Every test binary that links the contract suites instantiates only its port's.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(VoteIntakeContract);

void VoteIntakeContract::SetUp() {
  under_test_ = GetParam().make();
  ASSERT_NE(under_test_, nullptr) << GetParam().name << ": no intake";
}

TEST_P(VoteIntakeContract, EveryVoteIsAnsweredExactlyOnceFromAnyThread) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::atomic<int>> answers(kThreads * kPerThread);
  std::vector<std::atomic<int>> durable(kThreads * kPerThread);
  std::vector<std::promise<void>> all_answered(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int k = t * kPerThread + i;
        under_test_->intake().Submit(under_test_->EligibleVote(), [&, k](IntakeResult r) {
          if (r.kind == IntakeResult::Kind::kDurable) ++durable[k];
          if (++answers[k] == 1) all_answered[k].set_value();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t k = 0; k < all_answered.size(); ++k) {
    ASSERT_EQ(all_answered[k].get_future().wait_for(std::chrono::seconds(30)),
              std::future_status::ready)
        << "vote " << k << " never answered";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a second answer would show now
  for (std::size_t k = 0; k < answers.size(); ++k) {
    EXPECT_EQ(answers[k].load(), 1) << k;
    EXPECT_EQ(durable[k].load(), 1) << k;  // working backends, a queue far from full
  }
}

TEST_P(VoteIntakeContract, ABrokenBackendIsNeverAnsweredDurable) {
  under_test_->BreakBackend();
  for (int i = 0; i < 5; ++i) {
    std::promise<IntakeResult> answer;
    auto f = answer.get_future();
    under_test_->intake().Submit(under_test_->EligibleVote(),
                                 [&](IntakeResult r) { answer.set_value(r); });
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    auto r = f.get();
    EXPECT_NE(r.kind, IntakeResult::Kind::kDurable) << i;
    EXPECT_GT(r.retry_after.count(), 0) << i;
  }
}

TEST_P(VoteIntakeContract, HealthNamesEachDependency) {
  auto checks = under_test_->intake().Health();
  ASSERT_FALSE(checks.empty());
  for (const auto& c : checks) EXPECT_FALSE(c.name.empty());
}

}  // namespace scrutin::ports::testing

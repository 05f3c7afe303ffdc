#include "offline/seen_voters.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "offline/offline_test_support.hpp"

namespace scrutin::offline {
namespace {

using Repeats = std::vector<std::pair<std::uint64_t, std::string>>;

core::RegistryRow RowOf(const testing::FakeRegistryReader::Entry& e) {
  return std::get<core::RegistryRow>(e);
}

TEST(SeenVotersTest, DistinctVotersAndLawsAreNotRepeats) {
  Repeats repeats;
  SeenVoters seen(
      [&](std::uint64_t line, const std::string& law) { repeats.emplace_back(line, law); });
  std::uint64_t line = 1;
  for (const auto& law : {"L2025-001", "L2025-002"}) {
    for (const auto& e : testing::Voters(0, 500, law)) ASSERT_TRUE(seen.Add(RowOf(e), ++line));
  }
  seen.Flush();
  EXPECT_TRUE(repeats.empty());
}

TEST(SeenVotersTest, AVoterListedTwiceForALawIsReportedWithTheLaterLine) {
  Repeats repeats;
  SeenVoters seen(
      [&](std::uint64_t line, const std::string& law) { repeats.emplace_back(line, law); });
  auto rows = testing::Voters(0, 100, "L2025-001");
  core::RegistryRow again = RowOf(rows[7]);
  again.code = "ZZZZZZ";  // another code does not make another voter
  std::uint64_t line = 1;
  for (const auto& e : rows) ASSERT_TRUE(seen.Add(RowOf(e), ++line));
  ASSERT_TRUE(seen.Add(again, 500));
  seen.Flush();
  EXPECT_EQ(repeats, (Repeats{{500, "L2025-001"}}));
}

TEST(SeenVotersTest, RepeatsWithinTheLastRowsAreFoundByFlush) {
  // Fewer rows than the prefetch lag: every check happens in Flush().
  Repeats repeats;
  SeenVoters seen(
      [&](std::uint64_t line, const std::string& law) { repeats.emplace_back(line, law); });
  auto rows = testing::Voters(0, 3, "L2025-001");
  ASSERT_TRUE(seen.Add(RowOf(rows[0]), 2));
  ASSERT_TRUE(seen.Add(RowOf(rows[1]), 3));
  ASSERT_TRUE(seen.Add(RowOf(rows[0]), 4));
  EXPECT_TRUE(repeats.empty());
  seen.Flush();
  EXPECT_EQ(repeats, (Repeats{{4, "L2025-001"}}));
}

TEST(SeenVotersTest, TheSameVoterOnTwoLawsIsNotARepeat) {
  Repeats repeats;
  SeenVoters seen(
      [&](std::uint64_t line, const std::string& law) { repeats.emplace_back(line, law); });
  core::RegistryRow row = RowOf(testing::Voters(3, 1, "L2025-001")[0]);
  ASSERT_TRUE(seen.Add(row, 2));
  row.law_id = "L2025-002";
  ASSERT_TRUE(seen.Add(row, 3));
  seen.Flush();
  EXPECT_TRUE(repeats.empty());
}

}  // namespace
}  // namespace scrutin::offline

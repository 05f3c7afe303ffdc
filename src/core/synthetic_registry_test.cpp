#include "core/synthetic_registry.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <unordered_set>

#include "core/normalise.hpp"
#include "core/registry.hpp"

namespace scrutin::core {
namespace {

TEST(SyntheticRegistryTest, VotersAreValidDistinctAndDeterministic) {
  SyntheticRegistry a(42), b(42), c(43);
  std::unordered_set<std::string> nas_seen;
  std::string nas, code, nas_b, code_b, nas_c, code_c, scratch;
  int same_as_other_seed = 0;
  constexpr int kVoters = 200000;
  for (int i = 0; i < kVoters; ++i) {
    a.Voter(i, nas, code);
    b.Voter(i, nas_b, code_b);
    c.Voter(i, nas_c, code_c);
    ASSERT_EQ(NormaliseNas(nas, scratch), std::nullopt) << i;
    ASSERT_EQ(NormaliseCode(code, scratch), std::nullopt) << i;
    ASSERT_EQ(scratch, code) << "codes are already upper case";
    ASSERT_EQ(nas, nas_b);
    ASSERT_EQ(code, code_b);
    same_as_other_seed += nas == nas_c;
    nas_seen.insert(nas);
  }
  EXPECT_EQ(nas_seen.size(), static_cast<std::size_t>(kVoters));
  EXPECT_LT(same_as_other_seed, 5);
}

TEST(SyntheticRegistryTest, PermutationIsABijectionAtTheTopOfTheRange) {
  SyntheticRegistry r(7);
  std::unordered_set<std::string> seen;
  std::string nas, code;
  for (std::uint64_t i = SyntheticRegistry::kMaxVoters - 50000; i < SyntheticRegistry::kMaxVoters;
       ++i) {
    r.Voter(i, nas, code);
    ASSERT_TRUE(LuhnValid(nas));
    seen.insert(nas);
  }
  EXPECT_EQ(seen.size(), 50000u);
}

class SyntheticFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("scrutin_synth_test_" + std::to_string(::getpid()) + ".csv");
  }
  void TearDown() override {
    std::filesystem::remove(path_);
    std::filesystem::remove(path_.string() + ".tmp");
  }
  std::string Slurp() {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::filesystem::path path_;
};

TEST_F(SyntheticFileTest, WritesReadableRegistry) {
  std::vector<std::uint64_t> progress;
  ASSERT_TRUE(
      WriteSyntheticRegistry(path_, 5000, {"L2025-001", "L2025-002"}, 9, [&](std::uint64_t n) {
        progress.push_back(n);
      }).ok());
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 5000u);
  EXPECT_FALSE(std::filesystem::exists(path_.string() + ".tmp"));
  auto reader = RegistryReader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.error();
  SyntheticRegistry expected(9);
  std::string nas, code;
  RegistryRow row;
  for (int i = 0; i < 5000; ++i) {
    expected.Voter(i, nas, code);
    for (const char* law : {"L2025-001", "L2025-002"}) {
      auto r = (*reader)->Next(row);
      ASSERT_TRUE(r.ok() && *r) << i;
      EXPECT_EQ(row.nas, nas);
      EXPECT_EQ(row.code, code);
      EXPECT_EQ(row.law_id, law);
    }
  }
  auto end = (*reader)->Next(row);
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(*end);

  std::string first = Slurp();
  ASSERT_TRUE(WriteSyntheticRegistry(path_, 5000, {"L2025-001", "L2025-002"}, 9).ok());
  EXPECT_EQ(Slurp(), first) << "same seed, same file";
  ASSERT_TRUE(WriteSyntheticRegistry(path_, 5000, {"L2025-001", "L2025-002"}, 10).ok());
  EXPECT_NE(Slurp(), first);
}

TEST_F(SyntheticFileTest, RefusesBadArguments) {
  EXPECT_FALSE(WriteSyntheticRegistry(path_, 0, {"L2025-001"}, 1).ok());
  EXPECT_FALSE(
      WriteSyntheticRegistry(path_, SyntheticRegistry::kMaxVoters + 1, {"L2025-001"}, 1).ok());
  EXPECT_FALSE(WriteSyntheticRegistry(path_, 10, {}, 1).ok());
  EXPECT_FALSE(WriteSyntheticRegistry(path_, 10, {"L2025-01"}, 1).ok());
  EXPECT_FALSE(WriteSyntheticRegistry(path_, 10, {"L2025-001", "L2025-001"}, 1).ok());
  EXPECT_FALSE(WriteSyntheticRegistry("/nonexistent-dir/x.csv", 10, {"L2025-001"}, 1).ok());
  EXPECT_FALSE(std::filesystem::exists(path_));
}

}  // namespace
}  // namespace scrutin::core

#include "offline/registry_hasher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "offline/hash_pool.hpp"
#include "offline/offline_test_support.hpp"

namespace scrutin::offline {
namespace {

using testing::FakeRegistryReader;

std::vector<core::Digest> Expected(const std::vector<FakeRegistryReader::Entry>& rows,
                                   const core::CredentialHasher& hasher) {
  std::vector<core::Digest> out;
  for (const auto& e : rows) {
    const auto& r = std::get<core::RegistryRow>(e);
    out.push_back(hasher.Hash(r.nas, r.code, r.law_id));
  }
  return out;
}

TEST(HashRegistryTest, EveryRowsDigestInRegistryOrder) {
  const auto hasher = testing::TestHasher();
  // More rows than one batch, over two laws, so several batches and a partial last one.
  auto rows = testing::Voters(0, kBatchRows + 1234, "L2025-001");
  auto second = testing::Voters(0, 777, "L2025-002");
  rows.insert(rows.end(), second.begin(), second.end());
  FakeRegistryReader reader(rows);
  std::uint64_t last_progress = 0;
  HashRegistryCallbacks callbacks;
  callbacks.on_progress = [&](std::uint64_t b) { last_progress = b; };
  auto hashed = HashRegistry(reader, hasher, 3, callbacks);
  ASSERT_TRUE(hashed) << hashed.error();
  EXPECT_EQ(hashed->rows, rows.size());
  EXPECT_EQ(hashed->bad, 0u);
  EXPECT_EQ(hashed->repeats, 0u);
  EXPECT_EQ(hashed->digests, Expected(rows, hasher));
  EXPECT_EQ(last_progress, reader.file_size());
}

TEST(HashRegistryTest, OneThreadGivesTheSameDigests) {
  const auto hasher = testing::TestHasher();
  auto rows = testing::Voters(10, 5000, "L2025-001");
  FakeRegistryReader reader(rows);
  auto hashed = HashRegistry(reader, hasher, 1);
  ASSERT_TRUE(hashed) << hashed.error();
  EXPECT_EQ(hashed->digests, Expected(rows, hasher));
}

TEST(HashRegistryTest, BadRowsAndRepeatsAreCountedAndReportedAndNoDigestIsKept) {
  const auto hasher = testing::TestHasher();
  auto rows = testing::Voters(0, 50, "L2025-001");
  rows.insert(rows.begin() + 10, std::string("nas: fails the Luhn check"));
  rows.push_back(testing::Voters(4, 1, "L2025-001")[0]);  // voter 4 again: a repeat
  FakeRegistryReader reader(rows);
  std::vector<std::pair<std::uint64_t, std::string>> reported;
  HashRegistryCallbacks callbacks;
  callbacks.on_bad_row = [&](std::uint64_t n, const std::string& m) {
    reported.emplace_back(n, m);
  };
  auto hashed = HashRegistry(reader, hasher, 2, callbacks);
  ASSERT_TRUE(hashed) << hashed.error();
  EXPECT_EQ(hashed->rows, 51u);
  EXPECT_EQ(hashed->bad, 2u);
  EXPECT_EQ(hashed->repeats, 1u);
  EXPECT_TRUE(hashed->digests.empty());
  ASSERT_EQ(reported.size(), 2u);
  EXPECT_EQ(reported[0],
            std::make_pair(std::uint64_t{1}, std::string("line 12: nas: fails the Luhn check")));
  EXPECT_EQ(reported[1],
            std::make_pair(std::uint64_t{2},
                           std::string("line 53: nas: already listed for law L2025-001")));
}

TEST(HashRegistryTest, ABrokenReaderIsAnError) {
  const auto hasher = testing::TestHasher();
  FakeRegistryReader reader(testing::Voters(0, 100, "L2025-001"), /*break_at=*/40);
  auto hashed = HashRegistry(reader, hasher, 2);
  ASSERT_FALSE(hashed);
  EXPECT_EQ(hashed.error(), "read error: disk on fire");
}

TEST(HashRegistryTest, AnEmptyRegistryHasNoRows) {
  const auto hasher = testing::TestHasher();
  FakeRegistryReader reader({});
  auto hashed = HashRegistry(reader, hasher, 2);
  ASSERT_TRUE(hashed) << hashed.error();
  EXPECT_EQ(hashed->rows, 0u);
  EXPECT_TRUE(hashed->digests.empty());
}

}  // namespace
}  // namespace scrutin::offline

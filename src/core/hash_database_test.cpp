#include "core/hash_database.hpp"

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

namespace scrutin::core {
namespace {

namespace fs = std::filesystem;

std::vector<Digest> RandomDigests(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Digest> out(n);
  for (auto& d : out) {
    for (auto& b : d.bytes) b = static_cast<std::uint8_t>(rng());
  }
  return out;
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Spit(const fs::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

class HashDatabaseTest : public ::testing::TestWithParam<ShardFormat> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scrutin_hashdb_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes 2500 digests (plus duplicates) in shards of 1000.
  std::vector<Digest> WriteSample() {
    auto digests = RandomDigests(2500, 1);
    std::vector<Digest> input = digests;
    input.push_back(digests[3]);
    input.push_back(digests[1700]);
    std::vector<std::uint64_t> progress;
    auto m = WriteHashDatabase(dir_, HashScheme::kSha256, GetParam(), 1000, input,
                               [&](std::uint64_t n) { progress.push_back(n); });
    EXPECT_TRUE(m.ok()) << m.error();
    EXPECT_EQ(progress, (std::vector<std::uint64_t>{1000, 2000, 2500}));
    std::sort(digests.begin(), digests.end());
    return digests;
  }

  fs::path dir_;
};

TEST_P(HashDatabaseTest, RoundTrip) {
  auto expected = WriteSample();
  auto m = ReadManifest(dir_);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->scheme, HashScheme::kSha256);
  EXPECT_EQ(m->format, GetParam());
  EXPECT_EQ(m->count, 2500u);
  ASSERT_EQ(m->shards.size(), 3u);
  const char* ext = GetParam() == ShardFormat::kBin ? ".bin" : ".json";
  EXPECT_EQ(m->shards[0].file, std::string("hash_database_000") + ext);
  EXPECT_EQ(m->shards[2].file, std::string("hash_database_002") + ext);
  EXPECT_EQ(m->shards[2].count, 500u);
  for (const auto& s : m->shards) {
    // The manifest checksum is the SHA-256 of the whole file.
    std::string bytes = Slurp(dir_ / s.file);
    std::uint8_t sha[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), sha);
    EXPECT_EQ(HexEncode(sha, sizeof sha), s.sha256);
  }
  std::vector<Digest> got;
  auto s = ReadHashDatabase(dir_, *m, got);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(got, expected);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().extension() == ".tmp", false) << entry.path();
  }
}

TEST_P(HashDatabaseTest, RefusesToOverwrite) {
  WriteSample();
  auto more = RandomDigests(10, 2);
  auto m = WriteHashDatabase(dir_, HashScheme::kSha256, GetParam(), 1000, more);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("already holds"), std::string::npos) << m.error();
}

TEST_P(HashDatabaseTest, TamperedShardIsRefused) {
  WriteSample();
  auto m = ReadManifest(dir_);
  ASSERT_TRUE(m.ok());
  const fs::path shard = dir_ / m->shards[1].file;
  const std::string original = Slurp(shard);

  std::string flipped = original;
  flipped[flipped.size() / 2] ^= 0x01;
  Spit(shard, flipped);
  std::vector<Digest> got;
  auto s = ReadHashDatabase(dir_, *m, got);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find(m->shards[1].file), std::string::npos) << s.error();

  Spit(shard, original.substr(0, original.size() - 40));
  got.clear();
  EXPECT_FALSE(ReadHashDatabase(dir_, *m, got).ok());

  Spit(shard, original);
  got.clear();
  EXPECT_TRUE(ReadHashDatabase(dir_, *m, got).ok());
}

TEST_P(HashDatabaseTest, ManifestMismatchesAreRefused) {
  WriteSample();
  auto m = ReadManifest(dir_);
  ASSERT_TRUE(m.ok());
  std::vector<Digest> got;
  Manifest wrong_scheme = *m;
  wrong_scheme.scheme = HashScheme::kHmacSha256;
  EXPECT_FALSE(ReadHashDatabase(dir_, wrong_scheme, got).ok());
  got.clear();
  Manifest swapped = *m;
  std::swap(swapped.shards[0], swapped.shards[1]);
  EXPECT_FALSE(ReadHashDatabase(dir_, swapped, got).ok());

  const std::string manifest = Slurp(dir_ / "manifest.json");
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string text = manifest;
    auto pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    Spit(dir_ / "manifest.json", text.replace(pos, from.size(), to));
    auto r = ReadManifest(dir_);
    EXPECT_FALSE(r.ok()) << from << " -> " << to;
  };
  edit("\"count\": 2500", "\"count\": 2501");
  edit("\"version\": 1", "\"version\": 2");
  edit("\"scheme\": \"sha256\"", "\"scheme\": \"md5\"");
  edit("hash_database_000", "../etc/passwd");
  edit("{", "{\"extra\": 1, ");
  Spit(dir_ / "manifest.json", "not json");
  EXPECT_FALSE(ReadManifest(dir_).ok());
  fs::remove(dir_ / "manifest.json");
  EXPECT_FALSE(ReadManifest(dir_).ok());
}

INSTANTIATE_TEST_SUITE_P(Formats, HashDatabaseTest,
                         ::testing::Values(ShardFormat::kBin, ShardFormat::kJson),
                         [](const auto& info) { return std::string(ToString(info.param)); });

TEST(HashDatabaseFormatTest, JsonShardIsTheOriginalFormat) {
  const fs::path dir =
      fs::temp_directory_path() / ("scrutin_hashdb_json_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto digests = RandomDigests(3, 5);
  auto input = digests;
  ASSERT_TRUE(WriteHashDatabase(dir, HashScheme::kHmacSha256, ShardFormat::kJson, 10, input).ok());
  std::sort(digests.begin(), digests.end());
  std::string text = Slurp(dir / "hash_database_000.json");
  std::string expected = "{\"scheme\":\"hmac-sha256\",\"shard\":0,\"count\":3,\"hashes\":[\n\"" +
                         digests[0].ToHex() + "\",\n\"" + digests[1].ToHex() + "\",\n\"" +
                         digests[2].ToHex() + "\"\n]}\n";
  EXPECT_EQ(text, expected);
  fs::remove_all(dir);
}

TEST(HashDatabaseFormatTest, JsonShardFromAnotherWriterIsAccepted) {
  // The original design's tools may format the same document differently (spaces, indentation,
  // key order, upper-case hex): only the content matters.
  const fs::path dir =
      fs::temp_directory_path() / ("scrutin_hashdb_json2_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto digests = RandomDigests(2, 8);
  std::sort(digests.begin(), digests.end());
  std::string upper = digests[1].ToHex();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string shard = "{\n  \"hashes\": [\n    \"" + digests[0].ToHex() + "\",\n    \"" + upper +
                      "\"\n  ],\n  \"count\": 2,\n  \"shard\": 0,\n  \"scheme\": \"sha256\"\n}";
  fs::create_directories(dir);
  Spit(dir / "hash_database_000.json", shard);
  std::uint8_t sha[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const std::uint8_t*>(shard.data()), shard.size(), sha);
  Spit(dir / "manifest.json",
       "{\"version\":1,\"scheme\":\"sha256\",\"format\":\"json\",\"count\":2,\"shards\":[{\"file\":"
       "\"hash_database_000.json\",\"count\":2,\"sha256\":\"" +
           HexEncode(sha, sizeof sha) + "\"}]}");
  auto m = ReadManifest(dir);
  ASSERT_TRUE(m.ok()) << m.error();
  std::vector<Digest> got;
  auto s = ReadHashDatabase(dir, *m, got);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(got, digests);
  fs::remove_all(dir);
}

TEST(HashDatabaseFormatTest, BinShardLayout) {
  const fs::path dir =
      fs::temp_directory_path() / ("scrutin_hashdb_bin_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto digests = RandomDigests(2, 6);
  auto input = digests;
  ASSERT_TRUE(WriteHashDatabase(dir, HashScheme::kHmacSha256, ShardFormat::kBin, 10, input).ok());
  std::sort(digests.begin(), digests.end());
  std::string bin = Slurp(dir / "hash_database_000.bin");
  ASSERT_EQ(bin.size(), 64u + 2 * 32 + 32);
  EXPECT_EQ(bin.substr(0, 8), "SCRUTHDB");
  EXPECT_EQ(bin[8], 1);   // layout version
  EXPECT_EQ(bin[12], 0);  // hmac-sha256
  EXPECT_EQ(bin[24], 2);  // count
  EXPECT_EQ(bin.substr(64, 32), std::string(digests[0].bytes.begin(), digests[0].bytes.end()));
  std::uint8_t sha[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const std::uint8_t*>(bin.data()), bin.size() - 32, sha);
  EXPECT_EQ(bin.substr(bin.size() - 32), std::string(sha, sha + 32));
  fs::remove_all(dir);
}

TEST(HashDatabaseFormatTest, EmptyDatabase) {
  const fs::path dir =
      fs::temp_directory_path() / ("scrutin_hashdb_empty_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::vector<Digest> none;
  auto m = WriteHashDatabase(dir, HashScheme::kSha256, ShardFormat::kBin, 10, none);
  ASSERT_TRUE(m.ok()) << m.error();
  auto r = ReadManifest(dir);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->count, 0u);
  std::vector<Digest> got;
  EXPECT_TRUE(ReadHashDatabase(dir, *r, got).ok());
  EXPECT_TRUE(got.empty());
  fs::remove_all(dir);
}

TEST(SortDigestsTest, ParallelMatchesStdSort) {
  auto digests = RandomDigests(300000, 3);
  // Skewed first bytes as well: the buckets need not be balanced for correctness.
  for (std::size_t i = 0; i < digests.size(); i += 3) digests[i].bytes[0] = 0x42;
  auto expected = digests;
  std::sort(expected.begin(), expected.end());
  for (unsigned threads : {1u, 2u, 4u}) {
    auto got = digests;
    SortDigests(got, threads);
    EXPECT_EQ(got, expected) << threads;
  }
}

}  // namespace
}  // namespace scrutin::core

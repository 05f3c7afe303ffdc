#include "core/credential.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace scrutin::core {
namespace {

// Expected digests were computed independently with the OpenSSL command line, e.g.
//   printf '046454286|ABC123|L2025-001' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0001..1f
//   printf '046454286|ABC123|L2025-001' | openssl dgst -sha256
constexpr char kKeyHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kKeyHex2[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

std::vector<std::uint8_t> Key(const char* hex) {
  std::vector<std::uint8_t> key(32);
  EXPECT_TRUE(HexDecode(hex, key.data(), key.size()));
  return key;
}

TEST(CredentialHasherTest, HmacSha256Vectors) {
  auto h = CredentialHasher::Create(HashScheme::kHmacSha256, Key(kKeyHex));
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(h->Hash("046454286", "ABC123", "L2025-001").ToHex(),
            "c5ea6bfb3ad8d1d20beab778950a98f8de54a20401de2b8ec86e33153ac0ae0a");
  EXPECT_EQ(h->Hash("130692544", "Z9Y8X7", "Q2026-042").ToHex(),
            "2dd5678ad72830aac8b27437c8e78cd380bb2eaa5449fd128987aafcb2f536d3");
  EXPECT_EQ(h->HashMessage("046454286|ABC123|L2025-001").ToHex(),
            "c5ea6bfb3ad8d1d20beab778950a98f8de54a20401de2b8ec86e33153ac0ae0a");
  // A message longer than one block exercises the resumed state over several compressions.
  EXPECT_EQ(h->HashMessage(std::string(150, 'x')).ToHex(),
            "8f03635f7048cdce8d73355a256308c1de9b6644641d878c35b33020cd751bc9");
  EXPECT_EQ(h->scheme(), HashScheme::kHmacSha256);

  auto h2 = CredentialHasher::Create(HashScheme::kHmacSha256, Key(kKeyHex2));
  ASSERT_TRUE(h2.ok());
  EXPECT_EQ(h2->Hash("046454286", "ABC123", "L2025-001").ToHex(),
            "7bc0a32422b105b307a42f339fad26e6e91ab4d08cd06193c959d8f31d70ee68");
}

TEST(CredentialHasherTest, Sha256Vectors) {
  auto h = CredentialHasher::Create(HashScheme::kSha256, {});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->Hash("046454286", "ABC123", "L2025-001").ToHex(),
            "00dfad8ff30bb0e15a3174c12888683b93342816a52dd07ae83593597b6d2e9b");
  EXPECT_EQ(h->Hash("130692544", "Z9Y8X7", "Q2026-042").ToHex(),
            "1ff76ef30b511a6ba511b77f2d8a4737daa6500fe12de55f625a5a6a0dcb161d");
  EXPECT_EQ(h->HashMessage(std::string(150, 'x')).ToHex(),
            "a09244d54a7ed6e9f75c3f431270b7467ffbd133f4f9950931d0aa80ce4667e6");
}

TEST(CredentialHasherTest, HmacNeedsA32ByteKey) {
  EXPECT_FALSE(CredentialHasher::Create(HashScheme::kHmacSha256, {}).ok());
  std::vector<std::uint8_t> short_key(31);
  EXPECT_FALSE(CredentialHasher::Create(HashScheme::kHmacSha256, short_key).ok());
}

TEST(HashSchemeTest, Names) {
  EXPECT_EQ(ToString(HashScheme::kHmacSha256), "hmac-sha256");
  EXPECT_EQ(ToString(HashScheme::kSha256), "sha256");
  EXPECT_EQ(ParseHashScheme("hmac-sha256"), HashScheme::kHmacSha256);
  EXPECT_EQ(ParseHashScheme("sha256"), HashScheme::kSha256);
  EXPECT_EQ(ParseHashScheme("SHA256"), std::nullopt);
  EXPECT_EQ(ParseHashScheme("md5"), std::nullopt);
}

class ElectionKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("scrutin_key_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Key files are written as keygen writes them (0600) unless the test says otherwise.
  std::filesystem::path Write(const std::string& name, const std::string& content,
                              mode_t mode = 0600) {
    auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(ElectionKeyTest, LoadsKeygenFormat) {
  for (std::string content :
       {std::string(kKeyHex) + "\n", std::string(kKeyHex), std::string(kKeyHex) + "\r\n"}) {
    auto key = LoadElectionKey(Write("k", content));
    ASSERT_TRUE(key.ok()) << key.error();
    EXPECT_EQ(*key, Key(kKeyHex));
  }
  auto upper = LoadElectionKey(
      Write("u", "FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100\n"));
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(*upper, Key(kKeyHex2));
}

TEST_F(ElectionKeyTest, RefusesBadFiles) {
  EXPECT_FALSE(LoadElectionKey(dir_ / "missing").ok());
  for (std::string content :
       {std::string(""), std::string(kKeyHex).substr(0, 62) + "\n", std::string(kKeyHex) + "00\n",
        std::string(kKeyHex) + "\n\n", " " + std::string(kKeyHex), std::string(kKeyHex, 63) + "g\n",
        std::string(10000, 'a')}) {
    auto key = LoadElectionKey(Write("bad", content));
    ASSERT_FALSE(key.ok()) << content;
    EXPECT_NE(key.error().find("bad"), std::string::npos) << "names the file: " << key.error();
    EXPECT_EQ(key.error().find(kKeyHex), std::string::npos) << "never echoes key material";
  }
}

TEST_F(ElectionKeyTest, RefusesAKeyOthersCanReadLikeSsh) {
  const std::string key = std::string(kKeyHex) + "\n";
  ASSERT_TRUE(LoadElectionKey(Write("owner-only.key", key, 0600)).ok());
  ASSERT_TRUE(LoadElectionKey(Write("read-only.key", key, 0400)).ok());
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602, 0660, 0666}) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    auto loaded = LoadElectionKey(Write("election.key", key, mode));
    ASSERT_FALSE(loaded.ok()) << "mode " << octal << " accepted";
    const std::string& e = loaded.error();
    EXPECT_NE(e.find(std::string("permissions ") + octal), std::string::npos) << e;
    EXPECT_NE(e.find("election.key"), std::string::npos) << "names the file: " << e;
    EXPECT_NE(e.find("too open"), std::string::npos) << e;
    EXPECT_NE(e.find("chmod 600"), std::string::npos) << "says the fix: " << e;
    EXPECT_EQ(e.find(kKeyHex), std::string::npos) << "never echoes key material";
  }
}

TEST_F(ElectionKeyTest, RefusesWhatIsNotARegularFile) {
  auto dir = LoadElectionKey(dir_);
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().find("not a regular file"), std::string::npos) << dir.error();
  auto fifo = dir_ / "fifo.key";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto from_fifo = LoadElectionKey(fifo);  // refused at once, not blocked waiting for a writer
  ASSERT_FALSE(from_fifo.ok());
  EXPECT_NE(from_fifo.error().find("not a regular file"), std::string::npos) << from_fifo.error();
}

TEST_F(ElectionKeyTest, SecureLoadKeepsTheKeyOutOfCoreDumps) {
  auto key = LoadElectionKeySecure(Write("k", std::string(kKeyHex) + "\n"));
  ASSERT_TRUE(key.ok()) << key.error();
  ASSERT_EQ(key->size(), kElectionKeySize);
  EXPECT_TRUE(std::equal(key->data(), key->data() + key->size(), Key(kKeyHex).begin()));
  EXPECT_TRUE(key->dont_dump());
}

TEST(CredentialHasherTest, CopiesShareTheKeyStates) {
  auto h = CredentialHasher::Create(HashScheme::kHmacSha256, Key(kKeyHex));
  ASSERT_TRUE(h.ok());
  CredentialHasher copy = *h;
  CredentialHasher moved = std::move(h).value();
  EXPECT_EQ(copy.Hash("046454286", "ABC123", "L2025-001").ToHex(),
            "c5ea6bfb3ad8d1d20beab778950a98f8de54a20401de2b8ec86e33153ac0ae0a");
  EXPECT_EQ(moved.Hash("046454286", "ABC123", "L2025-001").ToHex(),
            "c5ea6bfb3ad8d1d20beab778950a98f8de54a20401de2b8ec86e33153ac0ae0a");
}

}  // namespace
}  // namespace scrutin::core

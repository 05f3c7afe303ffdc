#include "core/normalise.hpp"

#include <gtest/gtest.h>

namespace scrutin::core {
namespace {

TEST(LuhnTest, Table) {
  struct Case {
    std::string_view digits;
    bool valid;
  } cases[] = {
      {"046454286", true},
      {"130692544", true},
      {"123456782", true},
      {"000000000", true},
      {"0", true},
      {"18", true},
      {"046454287", false},
      {"130692545", false},
      {"987654321", false},
      {"", false},
      {"04645428a", false},
      {"79927398713", true},
      {"79927398710", false},
  };
  for (const auto& c : cases) EXPECT_EQ(LuhnValid(c.digits), c.valid) << c.digits;
}

TEST(NormaliseNasTest, AcceptsSpacesAndDashes) {
  for (std::string_view in :
       {"046454286", "046 454 286", "046-454-286", " 046454286 ", "0-4-6 4-5-4 2-8-6"}) {
    std::string out;
    EXPECT_EQ(NormaliseNas(in, out), std::nullopt) << in;
    EXPECT_EQ(out, "046454286") << in;
  }
}

TEST(NormaliseNasTest, ErrorCodes) {
  struct Case {
    std::string_view in;
    std::string_view code;
  } cases[] = {
      {"", kErrFormat},
      {"   ", kErrFormat},
      {"04645428", kErrFormat},
      {"0464542860", kErrFormat},
      {"04645428a", kErrFormat},
      {"046.454.286", kErrFormat},
      {"046_454_286", kErrFormat},
      {"０46454286", kErrFormat},
      {"046454287", kErrChecksum},
      {"046 454 287", kErrChecksum},
      {"987-654-321", kErrChecksum},
  };
  for (const auto& c : cases) {
    std::string out;
    auto err = NormaliseNas(c.in, out);
    ASSERT_TRUE(err.has_value()) << c.in;
    EXPECT_EQ(*err, c.code) << c.in;
    EXPECT_TRUE(out.empty()) << "a rejected NAS must not be left in the output";
  }
}

TEST(NormaliseNasTest, HugeInputDoesNotGrowOutput) {
  std::string big(100000, '1');
  std::string out;
  EXPECT_EQ(NormaliseNas(big, out), kErrFormat);
  EXPECT_LT(out.capacity(), 64u);
}

TEST(NormaliseCodeTest, UpperCases) {
  std::string out;
  EXPECT_EQ(NormaliseCode("abc123", out), std::nullopt);
  EXPECT_EQ(out, "ABC123");
  EXPECT_EQ(NormaliseCode("Z9y8X7", out), std::nullopt);
  EXPECT_EQ(out, "Z9Y8X7");
  EXPECT_EQ(NormaliseCode("000000", out), std::nullopt);
  EXPECT_EQ(out, "000000");
}

TEST(NormaliseCodeTest, ErrorCodes) {
  for (std::string_view in :
       {"", "abc12", "abc1234", "abc 12", " abc12", "abc-12", "abç123", "ABC12\n", "ABC12é"}) {
    std::string out;
    auto err = NormaliseCode(in, out);
    ASSERT_TRUE(err.has_value()) << in;
    EXPECT_EQ(*err, kErrFormat) << in;
    EXPECT_TRUE(out.empty());
  }
}

TEST(LawIdTest, Syntax) {
  EXPECT_TRUE(IsWellFormedLawId("L2025-001"));
  EXPECT_TRUE(IsWellFormedLawId("Q2026-999"));
  for (std::string_view bad : {"", "l2025-001", "L2025001", "L2025-01", "L2025-0011", "LL025-001",
                               "L2025_001", "L202A-001", " L2025-001", "L2025-001 "}) {
    EXPECT_FALSE(IsWellFormedLawId(bad)) << bad;
  }
}

TEST(WipeTest, ClearsTheWholeBuffer) {
  std::string s = "046454286 and a long tail that is on the heap";
  const char* data = s.data();
  std::size_t cap = s.capacity();
  s.resize(9);
  Wipe(s);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.data(), data);  // same buffer, wiped in place
  for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(data[i], '\0') << i;
}

}  // namespace
}  // namespace scrutin::core

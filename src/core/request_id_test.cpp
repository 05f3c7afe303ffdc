#include "core/request_id.hpp"

#include <gtest/gtest.h>

#include <set>

namespace scrutin::core {
namespace {

TEST(RequestIdTest, GeneratesDistinctVersion4Uuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto text = RequestId::Generate().ToString();
    ASSERT_EQ(text.size(), 36u);
    EXPECT_EQ(text[14], '4');
    EXPECT_TRUE(text[19] == '8' || text[19] == '9' || text[19] == 'a' || text[19] == 'b');
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RequestIdTest, ParseRoundTripsAndRejectsGarbage) {
  auto id = RequestId::Generate();
  auto parsed = RequestId::Parse(id.ToString());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, id);
  EXPECT_FALSE(RequestId::Parse(""));
  EXPECT_FALSE(RequestId::Parse("not-a-uuid"));
  EXPECT_FALSE(RequestId::Parse("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(RequestId::Parse("123e4567e89b-12d3-a456-4266141740000"));
  EXPECT_TRUE(RequestId::Parse("123E4567-E89B-42D3-A456-426614174000"));
}

TEST(RequestIdTest, DerivedValuesAreDomainSeparatedAndStable) {
  auto id = *RequestId::Parse("123e4567-e89b-42d3-a456-426614174000");
  EXPECT_EQ(StatusKey(id), StatusKey(id));
  EXPECT_NE(StatusKey(id), ClaimTag(id));
  EXPECT_EQ(StatusKey(id).size(), 32u);
  auto receipt = Receipt(id);
  ASSERT_EQ(receipt.size(), 19u);
  EXPECT_EQ(receipt[4], '-');
  EXPECT_EQ(receipt[9], '-');
  EXPECT_EQ(receipt[14], '-');
  EXPECT_NE(Receipt(id), Receipt(RequestId::Generate()));
}

}  // namespace
}  // namespace scrutin::core

namespace scrutin::core {
namespace {

TEST(ParseReceiptTest, AcceptsAReceiptAsAVoterMayTypeIt) {
  const std::string r = Receipt(RequestId::Generate());
  ASSERT_EQ(ParseReceipt(r), r);
  std::string lower = r;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(ParseReceipt(lower), r);
  std::string bare;
  for (char c : r) {
    if (c != '-') bare.push_back(c);
  }
  EXPECT_EQ(ParseReceipt(bare), r);
  // Crockford's look-alikes.
  EXPECT_EQ(ParseReceipt("O0IL-ABCD-EFGH-JKMN"), "0011-ABCD-EFGH-JKMN");
}

TEST(ParseReceiptTest, RefusesAnythingElse) {
  for (const char* bad :
       {"", "ABCD", "ABCD-EFGH-JKMN-PQR", "ABCD-EFGH-JKMN-PQRST", "ABC-DEFGH-JKMN-PQRS",
        "ABCD-EFGH-JKMN-PQRU", "ABCD_EFGH_JKMN_PQRS", "ABCD-EFGH-JKMNPQRS", "ABCD-EFGH-JKMN-PQR%",
        "ABCD--EFGH-JKMN-PQRS"}) {
    EXPECT_FALSE(ParseReceipt(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace scrutin::core

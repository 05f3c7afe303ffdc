#include "adapters/postgres/pg_array.hpp"

#include <gtest/gtest.h>

namespace scrutin::postgres {
namespace {

TEST(PgArrayLiteralTest, EmptyArray) {
  PgArrayLiteral a;
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.Take(), "{}");
}

TEST(PgArrayLiteralTest, QuotesEveryTextElement) {
  PgArrayLiteral a;
  a.Add("L2025-001").Add("").Add("NULL").Add("a,b {c}");
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.Take(), R"({"L2025-001","","NULL","a,b {c}"})");
}

TEST(PgArrayLiteralTest, EscapesQuotesAndBackslashes) {
  PgArrayLiteral a;
  a.Add(R"(say "oui" \ non)");
  EXPECT_EQ(a.Take(), R"({"say \"oui\" \\ non"})");
}

TEST(PgArrayLiteralTest, IntegersAndNulls) {
  PgArrayLiteral a;
  a.Add(std::int64_t{1}).AddNull().Add(std::int64_t{-42});
  EXPECT_EQ(a.Take(), "{1,NULL,-42}");
}

TEST(PgArrayLiteralTest, TakeResetsTheBuilder) {
  PgArrayLiteral a;
  a.Add("x");
  EXPECT_EQ(a.Take(), R"({"x"})");
  a.Add("y");
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(a.Take(), R"({"y"})");
}

}  // namespace
}  // namespace scrutin::postgres

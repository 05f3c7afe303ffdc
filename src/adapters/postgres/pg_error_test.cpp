// What a caller may do about a PostgreSQL error: its code, from the SQLSTATE class.
#include <gtest/gtest.h>

#include "adapters/postgres/pg_connection.hpp"

namespace scrutin::postgres {
namespace {

PgError Error(std::string sqlstate, bool lost = false) {
  return PgError{"message", std::move(sqlstate), lost};
}

TEST(PgErrorTest, ConnectionFailuresAndTransientRefusalsAreUnavailable) {
  for (const char* state : {"", "08006", "08001", "53300", "57P01", "57014", "40001", "40P01"}) {
    EXPECT_EQ(CodeOf(Error(state)), core::ErrorCode::kUnavailable) << state;
  }
  EXPECT_EQ(CodeOf(Error("23505", /*lost=*/true)), core::ErrorCode::kUnavailable);
}

TEST(PgErrorTest, ASchemaOrDataThisBinaryDoesNotExpectIsCorrupt) {
  for (const char* state : {"42P01", "42703", "42501", "XX000", "XX001"}) {
    EXPECT_EQ(CodeOf(Error(state)), core::ErrorCode::kCorrupt) << state;
  }
}

TEST(PgErrorTest, TheStatusCarriesTheCodeAndTheSqlState) {
  auto st = ToStatus("recording the batch", Error("42P01"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), core::ErrorCode::kCorrupt);
  EXPECT_EQ(st.error(), "recording the batch: message [SQLSTATE 42P01]");
  EXPECT_EQ(CodeOf(Error("23505")), core::ErrorCode::kUnknown);
}

}  // namespace
}  // namespace scrutin::postgres

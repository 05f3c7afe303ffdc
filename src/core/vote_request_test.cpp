#include "core/vote_request.hpp"

#include <gtest/gtest.h>

namespace scrutin::core {
namespace {

Ballot TestBallot() {
  Law law;
  law.id = "L2025-001";
  law.opens_at = *ParseTimestamp("2026-11-01T00:00:00Z");
  law.closes_at = *ParseTimestamp("2026-11-02T00:00:00Z");
  return Ballot({law});
}

using Fields = std::map<std::string, std::string>;

Fields ErrorFields(std::string_view body) {
  auto r = ParseVoteRequest(body, TestBallot());
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().kind, VoteRequestError::Kind::kInvalidFields) << body;
  // The message names fields and codes only, never the submitted credential.
  EXPECT_EQ(r.error().message.find("046"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("abc"), std::string::npos) << r.error().message;
  return r.error().fields;
}

TEST(VoteRequestTest, ParsesAndNormalises) {
  auto r = ParseVoteRequest(
      R"({"nas": "046 454 286", "code": "abc123", "law_id": "L2025-001", "vote": "oui"})",
      TestBallot());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->nas, "046454286");
  EXPECT_EQ(r->code, "ABC123");
  EXPECT_EQ(r->law_id, "L2025-001");
  EXPECT_EQ(r->choice, Choice::kOui);
}

TEST(VoteRequestTest, VoteAliasesAndCase) {
  struct Case {
    const char* vote;
    Choice choice;
  } cases[] = {{"oui", Choice::kOui}, {"OUI", Choice::kOui}, {"Non", Choice::kNon},
               {"yes", Choice::kOui}, {"NO", Choice::kNon},  {"non", Choice::kNon}};
  for (const auto& c : cases) {
    std::string body =
        std::string(R"({"nas":"046454286","code":"ABC123","law_id":"L2025-001","vote":")") +
        c.vote + "\"}";
    auto r = ParseVoteRequest(body, TestBallot());
    ASSERT_TRUE(r.ok()) << c.vote;
    EXPECT_EQ(r->choice, c.choice) << c.vote;
  }
}

TEST(VoteRequestTest, EachErrorCode) {
  EXPECT_EQ(ErrorFields(R"({"nas":"046454287","code":"ABC123","law_id":"L2025-001","vote":"oui"})"),
            (Fields{{"nas", "checksum"}}));
  EXPECT_EQ(ErrorFields(R"({"nas":"04645428","code":"abc12","law_id":"L2025-001","vote":"oui"})"),
            (Fields{{"nas", "format"}, {"code", "format"}}));
  EXPECT_EQ(ErrorFields(R"({"nas":"046454286","code":"ABC123","law_id":"L2025-009","vote":"oui"})"),
            (Fields{{"law_id", "unknown_law"}}));
  EXPECT_EQ(ErrorFields(R"({"nas":"046454286","code":"ABC123","law_id":"loi","vote":"peut-être"})"),
            (Fields{{"law_id", "format"}, {"vote", "format"}}));
  EXPECT_EQ(
      ErrorFields(R"({})"),
      (Fields{
          {"nas", "missing"}, {"code", "missing"}, {"law_id", "missing"}, {"vote", "missing"}}));
  EXPECT_EQ(
      ErrorFields(
          R"({"nas":"046454286","code":"ABC123","law_id":"L2025-001","vote":"oui","voter":"x"})"),
      (Fields{{"voter", "unknown_field"}}));
}

TEST(VoteRequestTest, NonStringValuesAreFormatErrors) {
  EXPECT_EQ(
      ErrorFields(R"({"nas":46454286,"code":null,"law_id":["L2025-001"],"vote":{"v":"oui"}})"),
      (Fields{{"nas", "format"}, {"code", "format"}, {"law_id", "format"}, {"vote", "format"}}));
  EXPECT_EQ(ErrorFields(R"({"nas":"046454286","code":true,"law_id":"L2025-001","vote":1.5})"),
            (Fields{{"code", "format"}, {"vote", "format"}}));
}

TEST(VoteRequestTest, RepeatedFieldIsAFormatError) {
  EXPECT_EQ(
      ErrorFields(
          R"({"nas":"046454286","nas":"130692544","code":"ABC123","law_id":"L2025-001","vote":"oui"})"),
      (Fields{{"nas", "format"}}));
}

TEST(VoteRequestTest, UnknownFieldNamesAreTruncated) {
  std::string name(100, 'k');
  auto fields =
      ErrorFields(R"({"nas":"046454286","code":"ABC123","law_id":"L2025-001","vote":"oui",")" +
                  name + R"(":{"deep":[1,2,{"x":"y"}]}})");
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields.begin()->first, std::string(64, 'k'));
  EXPECT_EQ(fields.begin()->second, "unknown_field");
  // A multi-byte character is never cut in half.
  std::string accented;
  for (int i = 0; i < 40; ++i) accented += "é";
  fields = ErrorFields(R"({"nas":"046454286","code":"ABC123","law_id":"L2025-001","vote":"oui",")" +
                       accented + R"(":1})");
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields.begin()->first, accented.substr(0, 64));
}

TEST(VoteRequestTest, FieldNamesAreCaseSensitive) {
  EXPECT_EQ(ErrorFields(R"({"NAS":"046454286","code":"ABC123","law_id":"L2025-001","vote":"oui"})"),
            (Fields{{"NAS", "unknown_field"}, {"nas", "missing"}}));
}

TEST(VoteRequestTest, MalformedJson) {
  for (std::string_view body :
       {"", "{", "not json", R"({"nas":"046454286",})", R"(["046454286"])", "\"x\"", "42", "null",
        R"({"nas":"046454286"} trailing)", "{\"nas\":\"\xff\"}"}) {
    auto r = ParseVoteRequest(body, TestBallot());
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, VoteRequestError::Kind::kMalformedJson) << body;
    EXPECT_TRUE(r.error().fields.empty());
    EXPECT_EQ(r.error().message.find("046454286"), std::string::npos) << r.error().message;
  }
}

TEST(VoteRequestTest, MovedFromRequestIsWiped) {
  auto r = ParseVoteRequest(
      R"({"nas":"046454286","code":"ABC123","law_id":"L2025-001","vote":"non"})", TestBallot());
  ASSERT_TRUE(r.ok());
  VoteRequest a = std::move(*r);
  EXPECT_TRUE(r->nas.empty());
  EXPECT_TRUE(r->code.empty());
  VoteRequest b;
  b = std::move(a);
  EXPECT_EQ(b.nas, "046454286");
  EXPECT_EQ(b.choice, Choice::kNon);
  EXPECT_TRUE(a.nas.empty());
}

}  // namespace
}  // namespace scrutin::core

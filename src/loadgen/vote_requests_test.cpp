#include "loadgen/vote_requests.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/ballot.hpp"
#include "core/normalise.hpp"
#include "core/vote_request.hpp"
#include "loadgen/http_engine.hpp"

namespace scrutin::loadgen {
namespace {

core::Ballot TestBallot() {
  auto ballot = core::Ballot::Parse(R"(
[[law]]
id = "L2025-001"
title_fr = "Loi"
title_en = "Act"
opens_at = "2020-01-01T00:00:00Z"
closes_at = "2099-01-01T00:00:00Z"
results = "live"
)");
  EXPECT_TRUE(ballot.ok()) << ballot.error();
  return *ballot;
}

TEST(LoadgenRequests, Luhn_GeneratedNasPassTheCoreCheck) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 10'000; ++i) {
    std::array<char, 9> text;
    FormatNas(RandomLuhnNas(rng), text);
    ASSERT_TRUE(core::LuhnValid(std::string_view(text.data(), 9)))
        << std::string_view(text.data(), 9);
  }
  // The documented example NAS of docs/openapi.yaml: 046 454 286.
  EXPECT_EQ(LuhnCheckDigit(4645428), 6);
}

TEST(LoadgenRequests, Luhn_FormatNasKeepsLeadingZeros) {
  std::array<char, 9> text;
  FormatNas(46454286, text);
  EXPECT_EQ(std::string_view(text.data(), 9), "046454286");
}

TEST(LoadgenRequests, RandomCode_IsSixUpperAlphanumerics) {
  std::mt19937_64 rng(9);
  for (int i = 0; i < 1000; ++i) {
    std::array<char, 6> code;
    RandomCode(rng, code);
    std::string out;
    EXPECT_FALSE(core::NormaliseCode(std::string_view(code.data(), 6), out).has_value());
    EXPECT_EQ(out, std::string(code.data(), 6));
  }
}

CredentialText Cred() {
  CredentialText c;
  FormatNas(46454286, c.nas);
  c.code = {'A', 'B', 'C', '1', '2', '3'};
  return c;
}

TEST(LoadgenRequests, VoteBody_BothStylesParseToTheSameVote) {
  const core::Ballot ballot = TestBallot();
  for (BodyStyle style : {BodyStyle::kCompact, BodyStyle::kHuman}) {
    for (core::Choice choice : {core::Choice::kOui, core::Choice::kNon}) {
      std::string body;
      AppendVoteBody(body, Cred(), "L2025-001", choice, style);
      auto req = core::ParseVoteRequest(body, ballot);
      ASSERT_TRUE(req.ok()) << body << ": " << req.error().message;
      EXPECT_EQ(req->nas, "046454286");
      EXPECT_EQ(req->code, "ABC123");
      EXPECT_EQ(req->law_id, "L2025-001");
      EXPECT_EQ(req->choice, choice);
    }
  }
}

TEST(LoadgenRequests, MalformedBody_EveryVariantIsRejectedByTheServerParser) {
  const core::Ballot ballot = TestBallot();
  for (int v = 0; v < kMalformedVariants; ++v) {
    std::string body;
    AppendMalformedBody(body, v, Cred(), "L2025-001");
    auto req = core::ParseVoteRequest(body, ballot);
    EXPECT_FALSE(req.ok()) << MalformedVariantName(v) << ": " << body;
  }
}

TEST(LoadgenRequests, Assemble_PostCarriesTheExactContentLength) {
  const std::string head = PostHead("/api/v1/vote", "127.0.0.1:8000");
  std::string out;
  AssemblePost(out, head, R"({"a":"b"})");
  EXPECT_EQ(out,
            "POST /api/v1/vote HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
            "Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}");
  AssembleGet(out, "/api/v1/vote/x", "h:1");
  EXPECT_EQ(out, "GET /api/v1/vote/x HTTP/1.1\r\nHost: h:1\r\n\r\n");
}

TEST(LoadgenRequests, FindJsonString_ReadsMembersNotValues) {
  const std::string body =
      R"({"request_id": "0b7e2f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "status_url": "/api/v1/vote/x",)"
      R"( "note":"status", "status" : "accepted"})";
  EXPECT_EQ(FindJsonString(body, "status"), "accepted");
  EXPECT_EQ(FindJsonString(body, "request_id"), "0b7e2f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(FindJsonString(body, "missing"), std::nullopt);
  EXPECT_EQ(FindJsonString(R"({"status": 3})", "status"), std::nullopt);
  EXPECT_EQ(FindJsonString(R"({"status": "unterminated)", "status"), std::nullopt);
}

TEST(LoadgenRequests, ParseTarget_AcceptsHostPortAndRejectsTheRest) {
  auto t = ParseTarget("http://127.0.0.1:8000");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 8000);
  EXPECT_EQ(t->host_header, "127.0.0.1:8000");
  t = ParseTarget("http://localhost/");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->port, 80);
  EXPECT_EQ(t->host_header, "localhost:80");
  t = ParseTarget("http://[::1]:9000");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 9000);
  EXPECT_FALSE(t->https);
  t = ParseTarget("https://localhost:8443");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->https);
  EXPECT_EQ(t->host, "localhost");
  EXPECT_EQ(t->port, 8443);
  t = ParseTarget("https://vote.example");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->port, 443);
  EXPECT_EQ(t->host_header, "vote.example:443");
  for (const char* bad : {"ftp://x:1", "127.0.0.1:8000", "http://:80", "http://h:0",
                          "http://h:99999", "http://h:80/api", "http://h:8x"}) {
    EXPECT_FALSE(ParseTarget(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace scrutin::loadgen

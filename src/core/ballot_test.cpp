#include "core/ballot.hpp"

#include <gtest/gtest.h>

namespace scrutin::core {
namespace {

constexpr char kGood[] = R"(
[[law]]
id = "L2025-001"
title_fr = "Loi sur les essais"
title_en = "Act respecting tests"
opens_at = "2026-11-01T00:00:00Z"
closes_at = "2026-11-02T00:00:00Z"
results = "live"

[[law]]
id = "L2025-002"
title_fr = "Loi deux"
title_en = "Act two"
opens_at = 2026-11-01T00:00:00-05:00   # a TOML offset date-time
closes_at = 2026-11-02T12:30:00.5Z
results = "after_close"
)";

Timestamp At(const char* rfc3339) { return *ParseTimestamp(rfc3339); }

TEST(BallotTest, ParsesGoodFile) {
  auto b = Ballot::Parse(kGood);
  ASSERT_TRUE(b.ok()) << b.error();
  ASSERT_EQ(b->laws().size(), 2u);
  const Law* l1 = b->Find("L2025-001");
  ASSERT_NE(l1, nullptr);
  EXPECT_EQ(l1->title_fr, "Loi sur les essais");
  EXPECT_EQ(l1->title_en, "Act respecting tests");
  EXPECT_EQ(l1->opens_at, At("2026-11-01T00:00:00Z"));
  EXPECT_EQ(l1->closes_at, At("2026-11-02T00:00:00Z"));
  EXPECT_EQ(l1->results, ResultsPolicy::kLive);
  EXPECT_TRUE(l1->IsOpen(At("2026-11-01T00:00:00Z")));
  EXPECT_FALSE(l1->IsOpen(At("2026-11-02T00:00:00Z")));
  EXPECT_TRUE(l1->IsClosed(At("2026-11-02T00:00:00Z")));
  const Law* l2 = b->Find("L2025-002");
  ASSERT_NE(l2, nullptr);
  EXPECT_EQ(l2->opens_at, At("2026-11-01T05:00:00Z"));
  EXPECT_EQ(l2->closes_at, At("2026-11-02T12:30:00.500Z"));
  EXPECT_EQ(l2->results, ResultsPolicy::kAfterClose);
  EXPECT_EQ(b->Find("L2025-003"), nullptr);
  EXPECT_EQ(ToString(ResultsPolicy::kAfterClose), "after_close");
}

TEST(BallotTest, ResultsVisibleKeepsAfterCloseLawsEmbargoedUntilTheyClose) {
  auto b = Ballot::Parse(kGood);
  ASSERT_TRUE(b.ok()) << b.error();
  const Law* live = b->Find("L2025-001");
  const Law* embargoed = b->Find("L2025-002");
  ASSERT_NE(live, nullptr);
  ASSERT_NE(embargoed, nullptr);
  // live: visible before, during and after the poll.
  EXPECT_TRUE(live->ResultsVisible(At("2026-10-31T00:00:00Z")));
  EXPECT_TRUE(live->ResultsVisible(At("2026-11-01T12:00:00Z")));
  EXPECT_TRUE(live->ResultsVisible(At("2026-11-03T00:00:00Z")));
  // after_close: hidden until closes_at, visible from closes_at on.
  EXPECT_FALSE(embargoed->ResultsVisible(At("2026-10-31T00:00:00Z")));
  EXPECT_FALSE(embargoed->ResultsVisible(At("2026-11-02T12:30:00.499Z")));
  EXPECT_TRUE(embargoed->ResultsVisible(At("2026-11-02T12:30:00.500Z")));
  EXPECT_TRUE(embargoed->ResultsVisible(At("2026-11-03T00:00:00Z")));
}

TEST(BallotTest, DatesOutsideTheClocksRangeAreRefusedNotOverflowed) {
  for (const char* closes :
       {"\"9999-11-02T00:00:00Z\"", "9999-11-02T00:00:00Z", "\"1900-01-01T00:00:00Z\""}) {
    std::string text = std::string(
                           "[[law]]\nid = \"L2025-001\"\ntitle_fr = \"A\"\ntitle_en = \"A\"\n"
                           "opens_at = \"2026-11-01T00:00:00Z\"\ncloses_at = ") +
                       closes + "\n";
    EXPECT_FALSE(Ballot::Parse(text).ok()) << closes;
  }
  EXPECT_FALSE(ParseTimestamp("9999-12-31T23:59:59+00:00"));
  EXPECT_FALSE(ParseTimestamp("1677-01-01T00:00:00Z"));
  EXPECT_TRUE(ParseTimestamp("2200-12-31T23:59:59Z"));
  EXPECT_FALSE(ParseTimestamp("2201-01-01T00:00:00Z"));
}

TEST(BallotTest, ResultsDefaultsToLive) {
  auto b = Ballot::Parse(R"([[law]]
id = "L2025-001"
title_fr = "a"
title_en = "b"
opens_at = "2026-11-01T00:00:00Z"
closes_at = "2026-11-02T00:00:00Z"
)");
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(b->laws()[0].results, ResultsPolicy::kLive);
}

std::string WithLine(const std::string& replace, const std::string& by) {
  std::string text = kGood;
  auto pos = text.find(replace);
  EXPECT_NE(pos, std::string::npos) << replace;
  return text.replace(pos, replace.size(), by);
}

void ExpectError(const std::string& toml, std::initializer_list<std::string_view> needles) {
  auto b = Ballot::Parse(toml);
  ASSERT_FALSE(b.ok()) << toml;
  for (auto n : needles) {
    EXPECT_NE(b.error().find(n), std::string::npos) << "'" << n << "' not in: " << b.error();
  }
}

TEST(BallotTest, Errors) {
  ExpectError("", {"no law"});
  ExpectError("title = \"x\"\n", {"unknown top-level key 'title'"});
  ExpectError("law = 3\n", {"array of tables"});
  ExpectError("[[law]]\nid = \"L2025-001\"\nid = \"x\"\n", {"invalid TOML", "line 3"});
  ExpectError(WithLine("results = \"live\"", "result = \"live\""),
              {"L2025-001", "unknown key 'result'"});
  ExpectError(WithLine("results = \"live\"", "results = \"sometimes\""), {"L2025-001", "results"});
  ExpectError(WithLine("id = \"L2025-002\"", "id = \"L2025-01\""), {"law #2", "malformed"});
  ExpectError(WithLine("id = \"L2025-002\"", "id = \"L2025-001\""), {"law #2", "duplicate id"});
  ExpectError(WithLine("id = \"L2025-002\"", "ident = \"L2025-002\""),
              {"law #2", "missing key 'id'"});
  ExpectError(WithLine("title_en = \"Act two\"", ""), {"L2025-002", "missing key 'title_en'"});
  ExpectError(WithLine("title_en = \"Act two\"", "title_en = \"\""), {"L2025-002", "title_en"});
  ExpectError(WithLine("title_en = \"Act two\"", "title_en = 7"), {"L2025-002", "title_en"});
  ExpectError(WithLine("opens_at = \"2026-11-01T00:00:00Z\"", "opens_at = \"2026-11-01\""),
              {"L2025-001", "opens_at", "RFC 3339"});
  ExpectError(WithLine("opens_at = \"2026-11-01T00:00:00Z\"", "opens_at = \"2026-11-01T00:00:00\""),
              {"L2025-001", "opens_at"});
  ExpectError(WithLine("opens_at = 2026-11-01T00:00:00-05:00", "opens_at = 2026-11-01T00:00:00"),
              {"L2025-002", "opens_at", "local date-time"});
  ExpectError(WithLine("opens_at = 2026-11-01T00:00:00-05:00", "opens_at = 5"),
              {"L2025-002", "opens_at"});
  ExpectError(
      WithLine("closes_at = \"2026-11-02T00:00:00Z\"", "closes_at = \"2026-10-02T00:00:00Z\""),
      {"L2025-001", "closes_at must be after opens_at"});
  ExpectError(WithLine("closes_at = \"2026-11-02T00:00:00Z\"", ""), {"L2025-001", "closes_at"});
}

TEST(BallotTest, AMovedCloseIsSeenByEveryCopyAndEveryLawTakenFromIt) {
  auto b = Ballot::Parse(kGood);
  ASSERT_TRUE(b.ok()) << b.error();
  const Ballot copy = *b;
  const Law taken = *b->Find("L2025-001");
  const Timestamp early = At("2026-11-01T12:00:00Z");
  EXPECT_TRUE(b->SetClosesAt("L2025-001", early));
  EXPECT_FALSE(b->SetClosesAt("L2099-001", early));
  EXPECT_EQ(copy.Find("L2025-001")->ClosesAt(), early);
  EXPECT_EQ(taken.ClosesAt(), early);
  EXPECT_EQ(taken.closes_at, At("2026-11-02T00:00:00Z")) << "the configured time stays";
  EXPECT_TRUE(taken.IsClosed(At("2026-11-01T12:00:00Z")));
  EXPECT_TRUE(taken.IsOpen(At("2026-11-01T11:59:59Z")));
  EXPECT_EQ(copy.Find("L2025-002")->ClosesAt(), At("2026-11-02T12:30:00.5Z")) << "others stay";
  // A law made on its own closes when it says.
  Law alone;
  alone.closes_at = early;
  EXPECT_EQ(alone.ClosesAt(), early);
}

}  // namespace
}  // namespace scrutin::core

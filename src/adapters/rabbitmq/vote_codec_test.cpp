#include "adapters/rabbitmq/vote_codec.hpp"

#include <gtest/gtest.h>

#include <random>

namespace scrutin::rabbitmq {
namespace {

core::VoteEnvelope SampleVote() {
  core::VoteEnvelope v;
  v.request_id = core::RequestId::Generate();
  for (std::size_t i = 0; i < v.digest.bytes.size(); ++i) {
    v.digest.bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
  v.law_id = "L2025-001";
  v.choice = core::Choice::kNon;
  // Nanosecond precision must survive the round trip.
  v.received_at = core::Timestamp(std::chrono::nanoseconds(1'793'491'200'123'456'789LL));
  return v;
}

void ExpectSameVote(const core::VoteEnvelope& a, const core::VoteEnvelope& b) {
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.law_id, b.law_id);
  EXPECT_EQ(a.choice, b.choice);
  EXPECT_EQ(a.received_at, b.received_at);
}

TEST(VoteCodecTest, SubmittedVoteRoundTrips) {
  const auto vote = SampleVote();
  const std::string bytes = EncodeVote(vote);
  EXPECT_EQ(bytes.size(), 60u + vote.law_id.size());
  auto decoded = DecodeVoteMessage(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  ExpectSameVote(decoded->vote, vote);
  EXPECT_FALSE(decoded->decision.has_value());
}

TEST(VoteCodecTest, DecidedVoteRoundTripsEveryStatus) {
  auto vote = SampleVote();
  vote.choice = core::Choice::kOui;
  for (auto status :
       {core::VoteStatus::kAccepted, core::VoteStatus::kDuplicate, core::VoteStatus::kInvalid}) {
    for (bool replay : {false, true}) {
      core::Decision d{status, 70000, replay};
      auto decoded = DecodeVoteMessage(EncodeDecidedVote(vote, d));
      ASSERT_TRUE(decoded.ok()) << decoded.error();
      ExpectSameVote(decoded->vote, vote);
      ASSERT_TRUE(decoded->decision.has_value());
      EXPECT_EQ(decoded->decision->status, status);
      EXPECT_EQ(decoded->decision->attempt_count, 70000u);
      EXPECT_EQ(decoded->decision->replay, replay);
    }
  }
}

TEST(VoteCodecTest, TimestampsBeforeTheEpochSurvive) {
  auto vote = SampleVote();
  vote.received_at = core::Timestamp(std::chrono::nanoseconds(-5));
  auto decoded = DecodeVoteMessage(EncodeVote(vote));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->vote.received_at, vote.received_at);
}

TEST(VoteCodecTest, LayoutIsTheDocumentedOne) {
  auto vote = SampleVote();
  const std::string b = EncodeDecidedVote(vote, {core::VoteStatus::kDuplicate, 2, false});
  ASSERT_EQ(b.size(), 66u + vote.law_id.size());
  EXPECT_EQ(b[0], 1);  // version
  EXPECT_EQ(b[1], 2);  // decided
  EXPECT_EQ(std::memcmp(b.data() + 2, vote.request_id.bytes.data(), 16), 0);
  EXPECT_EQ(std::memcmp(b.data() + 18, vote.digest.bytes.data(), 32), 0);
  EXPECT_EQ(b[58], 1);  // non
  EXPECT_EQ(static_cast<std::size_t>(b[59]), vote.law_id.size());
  EXPECT_EQ(b.substr(60, vote.law_id.size()), vote.law_id);
  EXPECT_EQ(b[60 + vote.law_id.size()], 2);  // duplicate
  EXPECT_EQ(b[64 + vote.law_id.size()], 2);  // attempt count, low byte
}

TEST(VoteCodecTest, RejectsGarbage) {
  const std::string good = EncodeVote(SampleVote());
  EXPECT_FALSE(DecodeVoteMessage("").ok());
  EXPECT_FALSE(DecodeVoteMessage("{\"request_id\":\"x\"}").ok());
  EXPECT_FALSE(DecodeVoteMessage(good.substr(0, good.size() - 1)).ok());  // truncated
  EXPECT_FALSE(DecodeVoteMessage(good + "x").ok());                       // trailing byte

  auto mutate = [&](std::size_t pos, char value) {
    std::string b = good;
    b[pos] = value;
    return DecodeVoteMessage(b);
  };
  auto bad_version = mutate(0, 2);
  ASSERT_FALSE(bad_version.ok());
  EXPECT_NE(bad_version.error().find("version"), std::string::npos);
  EXPECT_FALSE(mutate(1, 0).ok());     // unknown kind
  EXPECT_FALSE(mutate(1, 2).ok());     // says decided, but too short
  EXPECT_FALSE(mutate(58, 2).ok());    // choice
  EXPECT_FALSE(mutate(59, 0).ok());    // empty law id
  EXPECT_FALSE(mutate(59, 100).ok());  // law id too long
  EXPECT_FALSE(mutate(60, ' ').ok());  // law id character
  EXPECT_FALSE(mutate(60, '\0').ok());

  const auto vote = SampleVote();
  const std::string decided = EncodeDecidedVote(vote, {core::VoteStatus::kAccepted, 1, false});
  const std::size_t d = 60 + vote.law_id.size();
  for (auto [pos, value] :
       std::vector<std::pair<std::size_t, char>>{{d, 0}, {d, 4}, {d + 4, 0}, {d + 5, 2}}) {
    std::string b = decided;
    if (pos == d + 4) {
      b[d + 1] = b[d + 2] = b[d + 3] = b[d + 4] = 0;  // attempt_count 0
    } else {
      b[pos] = value;
    }
    EXPECT_FALSE(DecodeVoteMessage(b).ok()) << "byte " << pos;
  }
}

TEST(VoteCodecTest, RandomBytesNeverCrashAndRarelyDecode) {
  std::mt19937_64 rng(42);
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string b(rng() % 140, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    decoded += DecodeVoteMessage(b).ok();
  }
  EXPECT_EQ(decoded, 0);
}

}  // namespace
}  // namespace scrutin::rabbitmq

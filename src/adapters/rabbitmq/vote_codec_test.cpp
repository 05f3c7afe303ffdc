#include "adapters/rabbitmq/vote_codec.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

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

// Decodes a message that must hold exactly one vote.
core::Result<VoteMessage> DecodeOne(std::string_view bytes) {
  auto votes = DecodeVoteMessages(bytes);
  if (!votes.ok()) return core::Fail(votes.error());
  if (votes->size() != 1) return core::Fail(std::to_string(votes->size()) + " votes");
  return std::move(votes->front());
}

std::vector<core::VoteEnvelope> SampleVotes(std::size_t n) {
  std::vector<core::VoteEnvelope> votes;
  for (std::size_t i = 0; i < n; ++i) {
    auto v = SampleVote();
    v.digest.bytes[0] = static_cast<std::uint8_t>(i);
    v.digest.bytes[1] = static_cast<std::uint8_t>(i >> 8);
    v.choice = i % 2 ? core::Choice::kOui : core::Choice::kNon;
    v.law_id = i % 3 ? "L2025-001" : "L2025-0002.x_y";  // records of different lengths
    v.received_at += std::chrono::nanoseconds(i);
    votes.push_back(v);
  }
  return votes;
}

// ---- version 1 (single vote), still decoded ----------------------------------------------------

TEST(VoteCodecTest, SubmittedVoteV1RoundTrips) {
  const auto vote = SampleVote();
  const std::string bytes = EncodeVoteV1(vote);
  EXPECT_EQ(bytes.size(), 60u + vote.law_id.size());
  auto decoded = DecodeOne(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  ExpectSameVote(decoded->vote, vote);
  EXPECT_FALSE(decoded->decision.has_value());
}

TEST(VoteCodecTest, DecidedVoteV1RoundTripsEveryStatus) {
  auto vote = SampleVote();
  vote.choice = core::Choice::kOui;
  for (auto status :
       {core::VoteStatus::kAccepted, core::VoteStatus::kDuplicate, core::VoteStatus::kInvalid}) {
    for (bool replay : {false, true}) {
      core::Decision d{status, 70000, replay};
      auto decoded = DecodeOne(EncodeDecidedVoteV1(vote, d));
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
  auto decoded = DecodeOne(EncodeVoteV1(vote));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->vote.received_at, vote.received_at);
  auto batch = DecodeOne(EncodeVotes(std::span(&vote, 1)));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->vote.received_at, vote.received_at);
}

TEST(VoteCodecTest, V1LayoutIsTheDocumentedOne) {
  auto vote = SampleVote();
  const std::string b = EncodeDecidedVoteV1(vote, {core::VoteStatus::kDuplicate, 2, false});
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

TEST(VoteCodecTest, V1RejectsGarbage) {
  const std::string good = EncodeVoteV1(SampleVote());
  EXPECT_FALSE(DecodeVoteMessages("").ok());
  EXPECT_FALSE(DecodeVoteMessages("{\"request_id\":\"x\"}").ok());
  EXPECT_FALSE(DecodeVoteMessages(good.substr(0, good.size() - 1)).ok());  // truncated
  EXPECT_FALSE(DecodeVoteMessages(good + "x").ok());                       // trailing byte

  auto mutate = [&](std::size_t pos, char value) {
    std::string b = good;
    b[pos] = value;
    return DecodeVoteMessages(b);
  };
  auto bad_version = mutate(0, 3);
  ASSERT_FALSE(bad_version.ok());
  EXPECT_NE(bad_version.error().find("version"), std::string::npos);
  EXPECT_FALSE(mutate(0, 0).ok());
  EXPECT_FALSE(mutate(1, 0).ok());     // unknown kind
  EXPECT_FALSE(mutate(1, 2).ok());     // says decided, but too short
  EXPECT_FALSE(mutate(58, 2).ok());    // choice
  EXPECT_FALSE(mutate(59, 0).ok());    // empty law id
  EXPECT_FALSE(mutate(59, 100).ok());  // law id too long
  EXPECT_FALSE(mutate(60, ' ').ok());  // law id character
  EXPECT_FALSE(mutate(60, '\0').ok());

  const auto vote = SampleVote();
  const std::string decided = EncodeDecidedVoteV1(vote, {core::VoteStatus::kAccepted, 1, false});
  const std::size_t d = 60 + vote.law_id.size();
  for (auto [pos, value] :
       std::vector<std::pair<std::size_t, char>>{{d, 0}, {d, 4}, {d + 4, 0}, {d + 5, 2}}) {
    std::string b = decided;
    if (pos == d + 4) {
      b[d + 1] = b[d + 2] = b[d + 3] = b[d + 4] = 0;  // attempt_count 0
    } else {
      b[pos] = value;
    }
    EXPECT_FALSE(DecodeVoteMessages(b).ok()) << "byte " << pos;
  }
}

// ---- version 2 (a batch of votes per message) --------------------------------------------------

TEST(VoteCodecTest, SubmittedBatchRoundTripsInOrder) {
  const auto votes = SampleVotes(300);
  const std::string bytes = EncodeVotes(votes);
  auto decoded = DecodeVoteMessages(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  ASSERT_EQ(decoded->size(), votes.size());
  for (std::size_t i = 0; i < votes.size(); ++i) {
    ExpectSameVote((*decoded)[i].vote, votes[i]);
    EXPECT_FALSE((*decoded)[i].decision.has_value());
  }
}

TEST(VoteCodecTest, DecidedBatchRoundTripsEveryStatus) {
  const auto votes = SampleVotes(6);
  const std::vector<core::Decision> decisions = {
      {core::VoteStatus::kAccepted, 1, false},  {core::VoteStatus::kAccepted, 1, true},
      {core::VoteStatus::kDuplicate, 2, false}, {core::VoteStatus::kDuplicate, 70000, false},
      {core::VoteStatus::kInvalid, 1, false},   {core::VoteStatus::kInvalid, 0xffffffffu, true}};
  auto decoded = DecodeVoteMessages(EncodeDecidedVotes(votes, decisions));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  ASSERT_EQ(decoded->size(), votes.size());
  for (std::size_t i = 0; i < votes.size(); ++i) {
    ExpectSameVote((*decoded)[i].vote, votes[i]);
    ASSERT_TRUE((*decoded)[i].decision.has_value());
    EXPECT_EQ((*decoded)[i].decision->status, decisions[i].status);
    EXPECT_EQ((*decoded)[i].decision->attempt_count, decisions[i].attempt_count);
    EXPECT_EQ((*decoded)[i].decision->replay, decisions[i].replay);
  }
}

TEST(VoteCodecTest, V2LayoutIsTheDocumentedOne) {
  const auto votes = SampleVotes(2);  // law ids of 14 and 9 characters
  const core::Decision decisions[] = {{core::VoteStatus::kAccepted, 1, false},
                                      {core::VoteStatus::kInvalid, 258, true}};
  const std::string b = EncodeDecidedVotes(votes, decisions);
  const std::size_t r0 = 58 + votes[0].law_id.size() + 6;
  ASSERT_EQ(b.size(), 4 + r0 + 58 + votes[1].law_id.size() + 6);
  EXPECT_EQ(b[0], 2);  // version
  EXPECT_EQ(b[1], 2);  // decided
  EXPECT_EQ(b[2], 0);  // count, big-endian
  EXPECT_EQ(b[3], 2);
  const std::size_t v = 4 + r0;  // the second record
  EXPECT_EQ(std::memcmp(b.data() + v, votes[1].request_id.bytes.data(), 16), 0);
  EXPECT_EQ(std::memcmp(b.data() + v + 16, votes[1].digest.bytes.data(), 32), 0);
  EXPECT_EQ(b[v + 56], 0);  // oui
  EXPECT_EQ(static_cast<std::size_t>(b[v + 57]), votes[1].law_id.size());
  EXPECT_EQ(b.substr(v + 58, votes[1].law_id.size()), votes[1].law_id);
  const std::size_t d = v + 58 + votes[1].law_id.size();
  EXPECT_EQ(b[d], 3);      // invalid
  EXPECT_EQ(b[d + 3], 1);  // attempt count 258 = 0x0102
  EXPECT_EQ(b[d + 4], 2);
  EXPECT_EQ(b[d + 5], 1);  // replay
  EXPECT_EQ(EncodeVotes(votes).size(), 4 + 2 * 58 + 14 + 9u);
}

TEST(VoteCodecTest, LargestBatchFitsTheBound) {
  auto votes = SampleVotes(kMaxVotesPerMessage);
  for (auto& v : votes) v.law_id = std::string(kMaxLawIdLength, 'L');
  std::vector<core::Decision> decisions(votes.size(), {core::VoteStatus::kAccepted, 1, false});
  const std::string bytes = EncodeDecidedVotes(votes, decisions);
  EXPECT_EQ(bytes.size(), kMaxMessageBytes);
  auto decoded = DecodeVoteMessages(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(decoded->size(), kMaxVotesPerMessage);
}

TEST(VoteCodecTest, V2RejectsMalformedBatchesWhole) {
  const auto votes = SampleVotes(3);
  const std::string good = EncodeVotes(votes);
  ASSERT_TRUE(DecodeVoteMessages(good).ok());
  auto expect_error = [](const std::string& bytes, std::string_view contains) {
    auto r = DecodeVoteMessages(bytes);
    ASSERT_FALSE(r.ok()) << "decoded " << r->size() << " votes";
    EXPECT_NE(r.error().find(contains), std::string::npos) << r.error();
  };
  expect_error(good.substr(0, 3), "truncated");
  expect_error(good.substr(0, good.size() - 1), "truncated (vote 3 of 3)");
  expect_error(good + "x", "1 trailing bytes");
  std::string b = good;
  b[2] = 0, b[3] = 0;
  expect_error(b, "bad vote count 0");
  b[2] = 4, b[3] = 1;  // 1025
  expect_error(b, "bad vote count 1025");
  b[2] = 0, b[3] = 2;  // says 2, holds 3
  expect_error(b, "trailing bytes");
  b[3] = 4;  // says 4, holds 3
  expect_error(b, "truncated (vote 4 of 4)");
  b = good;
  b[1] = 2;  // says decided: the records do not line up
  EXPECT_FALSE(DecodeVoteMessages(b).ok());
  // A bad value in the middle record rejects the whole message.
  const std::size_t second = 4 + 58 + votes[0].law_id.size();
  b = good;
  b[second + 56] = 7;
  expect_error(b, "bad choice 7 (vote 2 of 3)");
  b = good;
  b[second + 58] = ' ';
  expect_error(b, "bad characters in law_id (vote 2 of 3)");
  expect_error(std::string(kMaxMessageBytes + 1, '\2'), "exceeds");

  std::vector<core::Decision> decisions(3, {core::VoteStatus::kAccepted, 1, false});
  const std::string decided = EncodeDecidedVotes(votes, decisions);
  const std::size_t d = second + 58 + votes[1].law_id.size();  // the second decision
  for (auto [pos, value] :
       std::vector<std::pair<std::size_t, char>>{{d, 0}, {d, 4}, {d + 4, 0}, {d + 5, 2}}) {
    std::string x = decided;
    if (pos == d + 4) {
      x[d + 1] = x[d + 2] = x[d + 3] = x[d + 4] = 0;  // attempt_count 0
    } else {
      x[pos] = value;
    }
    auto r = DecodeVoteMessages(x);
    ASSERT_FALSE(r.ok()) << "byte " << pos;
    EXPECT_NE(r.error().find("(vote 2 of 3)"), std::string::npos) << r.error();
  }
}

TEST(VoteCodecTest, RandomBytesNeverCrashAndRarelyDecode) {
  std::mt19937_64 rng(42);
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string b(rng() % 400, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    // Half of them with a plausible header, so the record parser sees random bytes too.
    if (i % 2 && b.size() >= 4) b[0] = 2, b[1] = 1 + (i % 4 == 1), b[2] = 0, b[3] = 1 + i % 5;
    decoded += DecodeVoteMessages(b).ok();
  }
  EXPECT_EQ(decoded, 0);
}

}  // namespace
}  // namespace scrutin::rabbitmq

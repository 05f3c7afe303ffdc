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
  for (std::size_t i = 0; i < v.ballot.size(); ++i) v.ballot[i] = static_cast<std::uint8_t>(200 - i);
  // Nanosecond precision must survive the round trip.
  v.received_at = core::Timestamp(std::chrono::nanoseconds(1'793'491'200'123'456'789LL));
  return v;
}

void ExpectSameVote(const core::VoteEnvelope& a, const core::VoteEnvelope& b) {
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.law_id, b.law_id);
  EXPECT_EQ(a.ballot, b.ballot);
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
    v.ballot[0] = static_cast<std::uint8_t>(i);
    v.law_id = i % 3 ? "L2025-001" : "L2025-0002.x_y";  // records of different lengths
    v.received_at += std::chrono::nanoseconds(i);
    votes.push_back(v);
  }
  return votes;
}

TEST(VoteCodecTest, TimestampsBeforeTheEpochSurvive) {
  auto vote = SampleVote();
  vote.received_at = core::Timestamp(std::chrono::nanoseconds(-5));
  auto batch = DecodeOne(EncodeVotes(std::span(&vote, 1)));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->vote.received_at, vote.received_at);
}

// Messages written before sealed ballots carried the choice in clear: refused, with the reason.
TEST(VoteCodecTest, MessagesOfEarlierVersionsAreRefusedWithTheReason) {
  const std::string good = EncodeVotes(SampleVotes(1));
  for (char version : {1, 2}) {
    std::string b = good;
    b[0] = version;
    auto r = DecodeVoteMessages(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("before sealed ballots"), std::string::npos) << r.error();
  }
}

// The choice is never on the wire: only the sealed ballot's bytes, whatever they hold.
TEST(VoteCodecTest, TheSealedBallotTravelsAsItIs) {
  auto vote = SampleVote();
  const std::string b = EncodeVotes(std::span(&vote, 1));
  EXPECT_EQ(b.substr(4 + 56, core::kSealedBallotSize),
            std::string(reinterpret_cast<const char*>(vote.ballot.data()), vote.ballot.size()));
}

// ---- version 3 (a batch of votes per message, ballots sealed) --------------------------------------------------

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

TEST(VoteCodecTest, LayoutIsTheDocumentedOne) {
  const auto votes = SampleVotes(2);  // law ids of 14 and 9 characters
  const core::Decision decisions[] = {{core::VoteStatus::kAccepted, 1, false},
                                      {core::VoteStatus::kInvalid, 258, true}};
  const std::string b = EncodeDecidedVotes(votes, decisions);
  const std::size_t r0 = 106 + votes[0].law_id.size() + 6;
  ASSERT_EQ(b.size(), 4 + r0 + 106 + votes[1].law_id.size() + 6);
  EXPECT_EQ(b[0], 3);  // version
  EXPECT_EQ(b[1], 2);  // decided
  EXPECT_EQ(b[2], 0);  // count, big-endian
  EXPECT_EQ(b[3], 2);
  const std::size_t v = 4 + r0;  // the second record
  EXPECT_EQ(std::memcmp(b.data() + v, votes[1].request_id.bytes.data(), 16), 0);
  EXPECT_EQ(std::memcmp(b.data() + v + 16, votes[1].digest.bytes.data(), 32), 0);
  EXPECT_EQ(std::memcmp(b.data() + v + 56, votes[1].ballot.data(), 49), 0);
  EXPECT_EQ(static_cast<std::size_t>(b[v + 105]), votes[1].law_id.size());
  EXPECT_EQ(b.substr(v + 106, votes[1].law_id.size()), votes[1].law_id);
  const std::size_t d = v + 106 + votes[1].law_id.size();
  EXPECT_EQ(b[d], 3);      // invalid
  EXPECT_EQ(b[d + 3], 1);  // attempt count 258 = 0x0102
  EXPECT_EQ(b[d + 4], 2);
  EXPECT_EQ(b[d + 5], 1);  // replay
  EXPECT_EQ(EncodeVotes(votes).size(), 4 + 2 * 106 + 14 + 9u);
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

TEST(VoteCodecTest, RejectsMalformedBatchesWhole) {
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
  const std::size_t second = 4 + 106 + votes[0].law_id.size();
  b = good;
  b[second + 105] = 0;
  expect_error(b, "bad law_id length 0 (vote 2 of 3)");
  b = good;
  b[second + 106] = ' ';
  expect_error(b, "bad characters in law_id (vote 2 of 3)");
  expect_error(std::string(kMaxMessageBytes + 1, '\3'), "exceeds");

  std::vector<core::Decision> decisions(3, {core::VoteStatus::kAccepted, 1, false});
  const std::string decided = EncodeDecidedVotes(votes, decisions);
  const std::size_t d = second + 106 + votes[1].law_id.size();  // the second decision
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
    if (i % 2 && b.size() >= 4) b[0] = 3, b[1] = 1 + (i % 4 == 1), b[2] = 0, b[3] = 1 + i % 5;
    decoded += DecodeVoteMessages(b).ok();
  }
  EXPECT_EQ(decoded, 0);
}

}  // namespace
}  // namespace scrutin::rabbitmq

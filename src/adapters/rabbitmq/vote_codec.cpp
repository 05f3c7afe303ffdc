#include "adapters/rabbitmq/vote_codec.hpp"

#include <cassert>
#include <cstdint>
#include <cstring>
#include <string>

namespace scrutin::rabbitmq {
namespace {

enum Kind : std::uint8_t { kKindVote = 1, kKindDecided = 2 };
constexpr std::size_t kHeaderSize = 4;                     // version, kind, count
constexpr std::size_t kRecordFixedSize = kRecordFixedBytes;  // up to the law_id length byte
constexpr std::size_t kLawLengthAt = kRecordFixedSize - 1;
constexpr std::size_t kDecisionSize = 6;  // status, attempt_count, replay

bool ValidLawChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool ValidLawId(std::string_view id) {
  if (id.empty() || id.size() > kMaxLawIdLength) return false;
  for (char c : id) {
    if (!ValidLawChar(c)) return false;
  }
  return true;
}

void PutU32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

void PutU64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::uint64_t GetU64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

std::uint32_t GetU32(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}

// Wire values of the statuses, independent of the enum's order in core.
std::uint8_t StatusCode(core::VoteStatus s) {
  switch (s) {
    case core::VoteStatus::kAccepted:
      return 1;
    case core::VoteStatus::kDuplicate:
      return 2;
    case core::VoteStatus::kInvalid:
      return 3;
    case core::VoteStatus::kPending:
      break;
  }
  return 0;
}

void AppendRecord(std::string& out, const core::VoteEnvelope& vote,
                  const core::Decision* decision) {
  assert(ValidLawId(vote.law_id));
  out.append(reinterpret_cast<const char*>(vote.request_id.bytes.data()),
             vote.request_id.bytes.size());
  out.append(reinterpret_cast<const char*>(vote.digest.bytes.data()), vote.digest.bytes.size());
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(vote.received_at.time_since_epoch())
          .count();
  PutU64(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(ns)));
  out.append(reinterpret_cast<const char*>(vote.ballot.data()), vote.ballot.size());
  out.push_back(static_cast<char>(vote.law_id.size()));
  out.append(vote.law_id);
  if (decision != nullptr) {
    assert(decision->status != core::VoteStatus::kPending);
    out.push_back(static_cast<char>(StatusCode(decision->status)));
    PutU32(out, decision->attempt_count);
    out.push_back(decision->replay ? 1 : 0);
  }
}

std::string EncodeBatch(Kind kind, std::span<const core::VoteEnvelope> votes,
                        std::span<const core::Decision> decisions) {
  assert(!votes.empty() && votes.size() <= kMaxVotesPerMessage);
  assert(kind == kKindVote || decisions.size() == votes.size());
  std::string out;
  out.reserve(kHeaderSize +
              votes.size() * (kRecordFixedSize + 12 + (kind == kKindDecided ? kDecisionSize : 0)));
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(kind));
  out.push_back(static_cast<char>(votes.size() >> 8));
  out.push_back(static_cast<char>(votes.size() & 0xff));
  for (std::size_t i = 0; i < votes.size(); ++i) {
    AppendRecord(out, votes[i], kind == kKindDecided ? &decisions[i] : nullptr);
  }
  return out;
}

// Reads one record at bytes[*pos], advancing *pos past it. Error: a reason without position
// (the caller adds which vote it was).
core::Result<VoteMessage> DecodeRecord(std::string_view bytes, std::size_t* pos, bool decided) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + *pos;
  const std::size_t left = bytes.size() - *pos;
  if (left < kRecordFixedSize) return core::Fail(std::string("truncated"));
  const std::size_t law_len = p[kLawLengthAt];
  if (law_len == 0 || law_len > kMaxLawIdLength) {
    return core::Fail("bad law_id length " + std::to_string(law_len));
  }
  const std::size_t size = kRecordFixedSize + law_len + (decided ? kDecisionSize : 0);
  if (left < size) return core::Fail(std::string("truncated"));

  VoteMessage m;
  std::memcpy(m.vote.request_id.bytes.data(), p, m.vote.request_id.bytes.size());
  std::memcpy(m.vote.digest.bytes.data(), p + 16, m.vote.digest.bytes.size());
  const auto ns = static_cast<std::int64_t>(GetU64(p + 48));
  m.vote.received_at = core::Timestamp(
      std::chrono::duration_cast<core::Timestamp::duration>(std::chrono::nanoseconds(ns)));
  std::memcpy(m.vote.ballot.data(), p + 56, m.vote.ballot.size());
  m.vote.law_id.assign(reinterpret_cast<const char*>(p) + kRecordFixedSize, law_len);
  if (!ValidLawId(m.vote.law_id)) return core::Fail(std::string("bad characters in law_id"));
  if (decided) {
    const unsigned char* d = p + kRecordFixedSize + law_len;
    if (d[0] < 1 || d[0] > 3) return core::Fail("bad status " + std::to_string(d[0]));
    core::Decision decision;
    decision.status = d[0] == 1   ? core::VoteStatus::kAccepted
                      : d[0] == 2 ? core::VoteStatus::kDuplicate
                                  : core::VoteStatus::kInvalid;
    decision.attempt_count = GetU32(d + 1);
    if (decision.attempt_count == 0) return core::Fail(std::string("attempt_count is 0"));
    if (d[5] > 1) return core::Fail("bad replay flag " + std::to_string(d[5]));
    decision.replay = d[5] == 1;
    m.decision = decision;
  }
  *pos += size;
  return m;
}

}  // namespace

std::string EncodeVotes(std::span<const core::VoteEnvelope> votes) {
  return EncodeBatch(kKindVote, votes, {});
}

std::string EncodeDecidedVotes(std::span<const core::VoteEnvelope> votes,
                               std::span<const core::Decision> decisions) {
  return EncodeBatch(kKindDecided, votes, decisions);
}

core::Result<std::vector<VoteMessage>> DecodeVoteMessages(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.empty()) return core::Fail(std::string("truncated message"));
  if (p[0] == 1 || p[0] == 2) {
    return core::Fail("unsupported format version " + std::to_string(p[0]) +
                      " (written by a release before sealed ballots, with the choice in clear: "
                      "drain the queues before upgrading)");
  }
  if (p[0] != kFormatVersion) {
    return core::Fail("unsupported format version " + std::to_string(p[0]));
  }
  // Checked before anything is allocated: the count bounds the work a hostile message causes.
  if (bytes.size() > kMaxMessageBytes) {
    return core::Fail("message of " + std::to_string(bytes.size()) + " bytes exceeds " +
                      std::to_string(kMaxMessageBytes));
  }
  if (bytes.size() < kHeaderSize) return core::Fail(std::string("truncated message"));
  if (p[1] != kKindVote && p[1] != kKindDecided) {
    return core::Fail("unknown message kind " + std::to_string(p[1]));
  }
  const bool decided = p[1] == kKindDecided;
  const std::size_t count = (std::size_t{p[2]} << 8) | p[3];
  if (count == 0 || count > kMaxVotesPerMessage) {
    return core::Fail("bad vote count " + std::to_string(count));
  }
  std::size_t pos = kHeaderSize;
  std::vector<VoteMessage> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto m = DecodeRecord(bytes, &pos, decided);
    if (!m.ok()) {
      if (count == 1) return core::Fail(m.error() == "truncated" ? "truncated message" : m.error());
      return core::Fail(m.error() + " (vote " + std::to_string(i + 1) + " of " +
                        std::to_string(count) + ")");
    }
    out.push_back(std::move(*m));
  }
  if (pos != bytes.size()) {
    return core::Fail(std::to_string(bytes.size() - pos) + " trailing bytes");
  }
  return out;
}

}  // namespace scrutin::rabbitmq

#include "adapters/rabbitmq/vote_codec.hpp"

#include <cassert>
#include <cstdint>
#include <cstring>

namespace scrutin::rabbitmq {
namespace {

enum Kind : std::uint8_t { kKindVote = 1, kKindDecided = 2 };
constexpr std::size_t kFixedSize = 60;    // up to and including the law_id length byte
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

std::string EncodeCommon(Kind kind, const core::VoteEnvelope& vote, std::size_t extra) {
  assert(ValidLawId(vote.law_id));
  std::string out;
  out.reserve(kFixedSize + vote.law_id.size() + extra);
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(kind));
  out.append(reinterpret_cast<const char*>(vote.request_id.bytes.data()),
             vote.request_id.bytes.size());
  out.append(reinterpret_cast<const char*>(vote.digest.bytes.data()), vote.digest.bytes.size());
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(vote.received_at.time_since_epoch())
          .count();
  PutU64(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(ns)));
  out.push_back(vote.choice == core::Choice::kOui ? 0 : 1);
  out.push_back(static_cast<char>(vote.law_id.size()));
  out.append(vote.law_id);
  return out;
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

}  // namespace

std::string EncodeVote(const core::VoteEnvelope& vote) { return EncodeCommon(kKindVote, vote, 0); }

std::string EncodeDecidedVote(const core::VoteEnvelope& vote, const core::Decision& decision) {
  assert(decision.status != core::VoteStatus::kPending);
  std::string out = EncodeCommon(kKindDecided, vote, kDecisionSize);
  out.push_back(static_cast<char>(StatusCode(decision.status)));
  PutU32(out, decision.attempt_count);
  out.push_back(decision.replay ? 1 : 0);
  return out;
}

core::Result<VoteMessage> DecodeVoteMessage(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 2) return core::Fail(std::string("truncated message"));
  if (p[0] != kFormatVersion) {
    return core::Fail("unsupported format version " + std::to_string(p[0]));
  }
  if (p[1] != kKindVote && p[1] != kKindDecided) {
    return core::Fail("unknown message kind " + std::to_string(p[1]));
  }
  const bool decided = p[1] == kKindDecided;
  if (bytes.size() < kFixedSize) return core::Fail(std::string("truncated message"));
  const std::size_t law_len = p[59];
  if (law_len == 0 || law_len > kMaxLawIdLength) {
    return core::Fail("bad law_id length " + std::to_string(law_len));
  }
  const std::size_t expected = kFixedSize + law_len + (decided ? kDecisionSize : 0);
  if (bytes.size() < expected) return core::Fail(std::string("truncated message"));
  if (bytes.size() > expected) {
    return core::Fail(std::to_string(bytes.size() - expected) + " trailing bytes");
  }

  VoteMessage m;
  std::memcpy(m.vote.request_id.bytes.data(), p + 2, m.vote.request_id.bytes.size());
  std::memcpy(m.vote.digest.bytes.data(), p + 18, m.vote.digest.bytes.size());
  const auto ns = static_cast<std::int64_t>(GetU64(p + 50));
  m.vote.received_at = core::Timestamp(
      std::chrono::duration_cast<core::Timestamp::duration>(std::chrono::nanoseconds(ns)));
  if (p[58] > 1) return core::Fail("bad choice " + std::to_string(p[58]));
  m.vote.choice = p[58] == 0 ? core::Choice::kOui : core::Choice::kNon;
  m.vote.law_id.assign(bytes.data() + kFixedSize, law_len);
  if (!ValidLawId(m.vote.law_id)) return core::Fail(std::string("bad characters in law_id"));
  if (decided) {
    const unsigned char* d = p + kFixedSize + law_len;
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
  return m;
}

}  // namespace scrutin::rabbitmq

// The wire format of the votes that travel through RabbitMQ: a fixed binary layout, versioned,
// about 70 bytes a vote. It carries the credential digest, never a NAS or a code (they do not
// exist past the API process).
//
// Version 2 (what every publisher writes): one message carries a batch of 1..kMaxVotesPerMessage
// votes of one kind, because the broker's cost is per message, not per byte (bench/RESULTS.md:
// ~120 us of broker CPU per single-vote message). Version 1 (one vote per message) is still
// decoded, so messages queued by an older release are processed during an upgrade.
//
// Layout (integers big-endian), version 2:
//
//   offset  size  field
//   0       1     format version (2)
//   1       1     kind: 1 = submitted votes, 2 = decided votes (every vote of the message)
//   2       2     N = number of votes, 1..kMaxVotesPerMessage
//   4       ...   N vote records, back to back:
//
//   record offset  size  field
//   0              16    request id (UUID bytes)
//   16             32    credential digest
//   48             8     received_at, signed nanoseconds since the Unix epoch (UTC)
//   56             1     choice: 0 = oui, 1 = non
//   57             1     L = length of law_id, 1..64
//   58             L     law_id, characters [A-Za-z0-9._-]
//   -- kind 2 only:
//   58+L           1     status: 1 = accepted, 2 = duplicate, 3 = invalid
//   59+L           4     attempt_count (>= 1)
//   63+L           1     replay: 0 or 1
//
// A record is at most 128 bytes, so a message is at most kMaxMessageBytes (131,076 bytes).
//
// Layout, version 1 (decoded only): byte 0 = 1, byte 1 = kind, then exactly one record as above
// (the vote at offset 2, the law_id at offset 60).
//
// A message is exactly that long: trailing bytes, an unknown version or kind, a count of 0 or over
// the bound, an out-of-range value in any record are all rejected with a reason (which goes into
// the dead-letter header): a message is decoded whole or not at all. The AMQP message_id carries
// the first vote's request id, for the broker's tools; the body is authoritative.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::rabbitmq {

inline constexpr std::uint8_t kFormatVersion = 2;      // written
inline constexpr std::uint8_t kSingleVoteVersion = 1;  // still read
inline constexpr std::size_t kMaxLawIdLength = 64;
inline constexpr std::size_t kMaxVotesPerMessage = 1024;
inline constexpr std::size_t kMaxRecordBytes = 58 + kMaxLawIdLength + 6;
inline constexpr std::size_t kMaxMessageBytes = 4 + kMaxVotesPerMessage * kMaxRecordBytes;

// The AMQP "type" property of each kind (informative; the body's version byte is authoritative).
inline constexpr std::string_view kVoteType = "scrutin.votes.v2";
inline constexpr std::string_view kDecidedVoteType = "scrutin.decided-votes.v2";

struct VoteMessage {
  core::VoteEnvelope vote;
  std::optional<core::Decision> decision;  // present for decided votes
};

// Version 2 messages. REQUIRES: 1 <= votes.size() <= kMaxVotesPerMessage; every law_id is 1..64
// characters of [A-Za-z0-9._-] (every configured law id is); for decided votes
// decisions.size() == votes.size() and no decision is kPending.
std::string EncodeVotes(std::span<const core::VoteEnvelope> votes);
std::string EncodeDecidedVotes(std::span<const core::VoteEnvelope> votes,
                               std::span<const core::Decision> decisions);

// Version 1 single-vote messages: what releases before the batch format wrote. Kept for tests of
// the upgrade path (and the fuzzer's round trip); publishers write version 2.
// REQUIRES: as above.
std::string EncodeVoteV1(const core::VoteEnvelope& vote);
std::string EncodeDecidedVoteV1(const core::VoteEnvelope& vote, const core::Decision& decision);

// Decodes a version 1 or version 2 message into its votes (one for version 1), in message order.
// Error with a short reason ("truncated vote 3 of 10", "unsupported version 7", ...) on anything
// that is not exactly one well-formed message; then no vote of it is returned.
core::Result<std::vector<VoteMessage>> DecodeVoteMessages(std::string_view bytes);

}  // namespace scrutin::rabbitmq

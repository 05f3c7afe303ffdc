// The vocabulary shared by every stage: choices, statuses, and the envelope a vote travels in once
// the API has turned the voter's credential into a digest.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/digest.hpp"
#include "core/request_id.hpp"

namespace scrutin::core {

using Clock = std::chrono::system_clock;
using Timestamp = Clock::time_point;

enum class Choice : std::uint8_t { kOui, kNon };

// "oui" / "non".
std::string_view ToString(Choice c);
// Case-insensitive "oui"/"non" and the aliases "yes"/"no"; nullopt otherwise.
std::optional<Choice> ParseChoice(std::string_view s);

// The final (or not yet final) outcome of one vote request.
enum class VoteStatus : std::uint8_t { kPending, kAccepted, kDuplicate, kInvalid };

// "pending" / "accepted" / "duplicate" / "invalid".
std::string_view ToString(VoteStatus s);
std::optional<VoteStatus> ParseVoteStatus(std::string_view s);

// A ballot sealed at the door (core/sealed_ballot.hpp, docs/ballot-secrecy.md): the choice and the
// receipt, encrypted with the election's ballot key. Every sealed ballot has this size.
inline constexpr std::size_t kSealedBallotSize = 49;
using SealedBallot = std::array<std::uint8_t, kSealedBallotSize>;

// A syntactically valid vote after hashing and sealing: no NAS, no code, no choice in clear. This
// is what is queued, logged by digest only, decided by the validator and recorded with the claim;
// only the mixer opens the ballot, in shuffled groups (docs/ballot-secrecy.md).
struct VoteEnvelope {
  RequestId request_id;
  Digest digest;
  std::string law_id;
  SealedBallot ballot{};
  Timestamp received_at;
};

// What the validator decided for one envelope.
struct Decision {
  VoteStatus status = VoteStatus::kPending;
  // accepted: 1; duplicate: how many times this credential has tried this law, the accepted vote
  // included (so the first duplicate is 2); invalid: 1 (repeated invalid attempts are audited but
  // not counted per digest, so that random credentials cannot grow server memory).
  std::uint32_t attempt_count = 0;
  // True when the envelope is a redelivery of the request that holds the claim: it is accepted
  // again but must not be counted again.
  bool replay = false;
};

// The years a Timestamp can hold safely (the system clock counts nanoseconds in 64 bits, so it
// ends in 2262, and a closing time plus up to ten years of retention must stay inside); times
// outside are refused at parsing, never overflowed.
inline constexpr int kMinYear = 1970;
inline constexpr int kMaxYear = 2200;

// RFC 3339 UTC with milliseconds, e.g. "2026-11-01T12:34:56.789Z".
std::string FormatTimestamp(Timestamp t);
// Parses RFC 3339 (with 'Z' or a numeric offset, optional fractional seconds); nullopt for a year
// outside [kMinYear, kMaxYear].
std::optional<Timestamp> ParseTimestamp(std::string_view s);

}  // namespace scrutin::core

// RequestId: the random identifier of one vote request (a UUID v4), and the values derived from it.
//
// Ballot secrecy by construction. The request id is a capability held by the voter: the stores keep
// only one-way, domain-separated functions of it, so that no stored record links a credential
// digest to a choice:
//   - StatusKey(id)  keys the request-status record (what GET /api/v1/vote/{id} reads);
//   - ClaimTag(id)   is stored beside an accepted digest, so a redelivered message recognises its
//                    own claim (idempotency) without the store learning the id;
//   - Receipt(id)    is stored on the ballot, and shown to the voter, who can find their ballot in
//                    the published list without revealing who they are.
// Without the id (122 random bits) none of the three can be computed from another.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace scrutin::core {

struct RequestId {
  std::array<std::uint8_t, 16> bytes{};

  bool operator==(const RequestId&) const = default;

  // A fresh UUID v4 from a cryptographically secure generator. Thread-safe.
  static RequestId Generate();
  // Canonical lowercase "8-4-4-4-12" form; accepts upper case too. nullopt on anything else.
  static std::optional<RequestId> Parse(std::string_view text);
  std::string ToString() const;
};

// 32 hex characters each: SHA-256 over a domain tag and the id, truncated to 128 bits.
std::string StatusKey(const RequestId& id);
std::string ClaimTag(const RequestId& id);

// The voter's receipt: 80 bits of SHA-256("scrutin/receipt/v1" || id) in Crockford base32,
// grouped "XXXX-XXXX-XXXX-XXXX".
std::string Receipt(const RequestId& id);

// A receipt as a voter may type it: case-insensitive, its four groups with or without dashes (and
// Crockford's look-alikes O -> 0, I and L -> 1), returned as Receipt() writes it; nullopt for
// anything else.
std::optional<std::string> ParseReceipt(std::string_view text);

}  // namespace scrutin::core

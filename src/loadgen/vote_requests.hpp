// The bytes of the requests a load run sends, written into reusable buffers (no allocation once
// they have grown), and the little reading of answers the hot path needs.
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/vote.hpp"

namespace scrutin::loadgen {

// A credential as the generator holds it: 9-digit NAS as a number, 6-character code.
struct CredentialText {
  std::array<char, 9> nas;
  std::array<char, 6> code;
};

// Writes `nas` (< 10^9) as 9 digits with leading zeros.
void FormatNas(std::uint32_t nas, std::array<char, 9>& out);
// The Luhn check digit that completes 8 leading digits into a valid 9-digit NAS.
int LuhnCheckDigit(std::uint32_t first_eight);
// A random 9-digit NAS that passes the Luhn check.
std::uint32_t RandomLuhnNas(std::mt19937_64& rng);
// A random 6-character [A-Z0-9] code.
void RandomCode(std::mt19937_64& rng, std::array<char, 6>& out);

// Body styles of a well-formed vote: compact with normalised values, or spaced with the NAS
// grouped "046 454 286", the code in lower case and the choice in upper case (all accepted by
// docs/openapi.yaml, so the server's normalisation is exercised too).
enum class BodyStyle : std::uint8_t { kCompact, kHuman };

// Appends the JSON body of a vote.
void AppendVoteBody(std::string& out, const CredentialText& cred, std::string_view law_id,
                    core::Choice choice, BodyStyle style);

// Malformed bodies, each of which docs/openapi.yaml answers with 400: broken JSON, not JSON, not an
// object, a missing field, an unknown field, a bad NAS checksum, a bad code, a bad choice, an
// unknown or malformed law id, a field of the wrong type.
inline constexpr int kMalformedVariants = 11;
// Appends variant `variant` (0 <= variant < kMalformedVariants), built around a credential that
// is not registered, so that even a server wrongly accepting it would change no tally.
void AppendMalformedBody(std::string& out, int variant, const CredentialText& cred,
                         std::string_view law_id);
std::string_view MalformedVariantName(int variant);

// The request head for a POST with a JSON body up to the Content-Length value, e.g.
// "POST /api/v1/vote HTTP/1.1\r\nHost: h:80\r\nContent-Type: application/json\r\nContent-Length: ".
std::string PostHead(std::string_view path, std::string_view host_header);
// out = head + length + "\r\n\r\n" + body.
void AssemblePost(std::string& out, std::string_view head, std::string_view body);
// out = "GET <path> HTTP/1.1\r\nHost: <host>\r\n\r\n".
void AssembleGet(std::string& out, std::string_view path, std::string_view host_header);

// The string value of member `key` of a flat JSON object, without unescaping (enough for the
// ids and status words of our own answers). nullopt when absent or not a string.
std::optional<std::string_view> FindJsonString(std::string_view json, std::string_view key);

}  // namespace scrutin::loadgen

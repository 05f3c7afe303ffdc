// Normalisation and validation of the credential fields, shared by the API (what a voter types)
// and the offline phase (what the registry holds). docs/openapi.yaml, POST /api/v1/vote.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace scrutin::core {

// Field error codes of docs/openapi.yaml, as they appear in a 400 body's "fields".
inline constexpr std::string_view kErrMissing = "missing";
inline constexpr std::string_view kErrFormat = "format";
inline constexpr std::string_view kErrChecksum = "checksum";
inline constexpr std::string_view kErrUnknownField = "unknown_field";
inline constexpr std::string_view kErrUnknownLaw = "unknown_law";

// NAS: removes spaces and dashes; then 9 ASCII digits (else kErrFormat) whose Luhn check passes
// (else kErrChecksum). On success `out` holds the 9 digits.
std::optional<std::string_view> NormaliseNas(std::string_view in, std::string& out);

// Code: exactly 6 of [A-Za-z0-9] (else kErrFormat); `out` holds it upper-cased.
std::optional<std::string_view> NormaliseCode(std::string_view in, std::string& out);

// law_id syntax: [A-Z][0-9]{4}-[0-9]{3}. Whether the law is on the ballot is the caller's check.
bool IsWellFormedLawId(std::string_view id);

// Luhn check over a string of digits.
bool LuhnValid(std::string_view digits);

// Overwrites a string holding a NAS or code before it is freed (OPENSSL_cleanse).
void Wipe(std::string& s);

}  // namespace scrutin::core

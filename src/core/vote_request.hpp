// Parsing of the POST /api/v1/vote body into a normalised, validated request (docs/openapi.yaml).
// Every field error is reported at once, one code per field.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/ballot.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::core {

// Holds the voter's NAS and code for the duration of one request; wipes them when destroyed.
struct VoteRequest {
  std::string nas;     // 9 digits
  std::string code;    // 6 upper-case [A-Z0-9]
  std::string law_id;  // on the ballot
  Choice choice = Choice::kOui;

  VoteRequest() = default;
  VoteRequest(VoteRequest&&) noexcept;
  VoteRequest& operator=(VoteRequest&&) noexcept;
  VoteRequest(const VoteRequest&) = delete;
  VoteRequest& operator=(const VoteRequest&) = delete;
  ~VoteRequest();
};

struct VoteRequestError {
  enum class Kind : std::uint8_t {
    kMalformedJson,  // not JSON, or not a JSON object: fields is empty
    kInvalidFields,  // fields maps each offending field to one of the codes in normalise.hpp
  };
  Kind kind = Kind::kInvalidFields;
  std::string message;                        // one human sentence, never echoing nas or code
  std::map<std::string, std::string> fields;  // field name -> error code
};

// Field rules: nas (NormaliseNas), code (NormaliseCode), law_id (format when not well formed,
// unknown_law when well formed but not on `ballot`), vote (oui/non/yes/no, case-insensitive:
// format otherwise). A field that is absent is `missing`; a value that is not a JSON string is
// `format`; any other member is `unknown_field` under its own name (names longer than 64 bytes
// are truncated in the error). The voting window is NOT checked here (that is a 403, the caller's).
Result<VoteRequest, VoteRequestError> ParseVoteRequest(std::string_view body, const Ballot& ballot);

}  // namespace scrutin::core

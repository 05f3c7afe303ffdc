// Fuzzes core::ParseVoteRequest, the parser of the untrusted POST /api/v1/vote body, against a
// fixed two-law ballot. Checks: it never crashes (ASan/UBSan); on success the request is
// normalised (nas is 9 digits, code is 6 of [A-Z0-9], law_id is on the ballot); on failure neither
// the message nor the field codes echo the body's nas or code value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/ballot.hpp"
#include "core/vote_request.hpp"

namespace {

using scrutin::core::Ballot;
using scrutin::core::Law;

const Ballot& TwoLawBallot() {
  static const Ballot* ballot = [] {
    std::vector<Law> laws(2);
    laws[0].id = "L2025-001";
    laws[1].id = "L2025-002";
    for (auto& law : laws) {
      law.opens_at = scrutin::core::Timestamp{};
      law.closes_at = law.opens_at + std::chrono::hours(24);
    }
    return new Ballot(std::move(laws));
  }();
  return *ballot;
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool AllUpperAlnum(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool HasDigit(std::string_view s) {
  for (char c : s) {
    if (c >= '0' && c <= '9') return true;
  }
  return false;
}

// The credential values of the body (every top-level "nas"/"code" string, duplicates included)
// and every member name anywhere in it.
struct BodyStrings {
  std::vector<std::string> secrets;
  std::vector<std::string> keys;
};

BodyStrings Collect(std::string_view body) {
  BodyStrings out;
  std::string last_key;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key) {
      if (parsed.is_string()) {
        last_key = parsed.get<std::string>();
        out.keys.push_back(last_key);
      }
    } else if (event == nlohmann::json::parse_event_t::value && depth == 1 && parsed.is_string() &&
               (last_key == "nas" || last_key == "code")) {
      out.secrets.push_back(parsed.get<std::string>());
    }
    return true;
  };
  (void)nlohmann::json::parse(body.begin(), body.end(), callback, /*allow_exceptions=*/false);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto result = scrutin::core::ParseVoteRequest(body, TwoLawBallot());
  if (result.ok()) {
    const auto& req = result.value();
    if (req.nas.size() != 9 || !AllDigits(req.nas)) std::abort();
    if (req.code.size() != 6 || !AllUpperAlnum(req.code)) std::abort();
    if (TwoLawBallot().Find(req.law_id) == nullptr) std::abort();
    return 0;
  }
  const auto& error = result.error();
  if (error.kind == scrutin::core::VoteRequestError::Kind::kMalformedJson &&
      !error.fields.empty()) {
    std::abort();
  }
  // The fixed wording and the field codes contain no digit, and member names are echoed on
  // purpose, so a credential value counts as leaked only when it holds a digit, is 6+ bytes long
  // and is not part of any member name.
  const BodyStrings strings = Collect(body);
  for (const std::string& secret : strings.secrets) {
    if (secret.size() < 6 || !HasDigit(secret)) continue;
    bool in_key = false;
    for (const std::string& key : strings.keys) {
      if (key.find(secret) != std::string::npos) in_key = true;
    }
    if (in_key) continue;
    if (error.message.find(secret) != std::string::npos) std::abort();
    for (const auto& [name, code] : error.fields) {
      if (code.find(secret) != std::string::npos) std::abort();
    }
  }
  return 0;
}

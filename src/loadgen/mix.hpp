// The vote mix of a load run: which share of the requests carries a fresh registered credential
// (valid), repeats a credential already sent (duplicate), carries a well-formed but unregistered
// credential (invalid), or is broken JSON / wrong fields (malformed).
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace scrutin::loadgen {

enum class RequestKind : std::uint8_t { kValid, kDuplicate, kInvalid, kMalformed };
inline constexpr std::size_t kRequestKinds = 4;
std::string_view ToString(RequestKind k);  // "valid" / "duplicate" / "invalid" / "malformed"

class Mix {
 public:
  // All valid.
  Mix();

  // Parses "valid=0.9,duplicate=0.05,invalid=0.03,malformed=0.02". Kinds not named get 0; each
  // share is a number in [0, 1]; the shares must add up to 1 (within 0.001). Errors name the
  // offending item.
  static core::Result<Mix> Parse(std::string_view text);

  double share(RequestKind k) const { return shares_[static_cast<std::size_t>(k)]; }

  // The kind for a uniform draw u in [0, 1): kinds take consecutive slices of [0, 1) in enum order.
  RequestKind Pick(double u) const;

  // "valid=0.9,duplicate=0.05,invalid=0.03,malformed=0.02".
  std::string ToString() const;

 private:
  std::array<double, kRequestKinds> shares_{};
};

}  // namespace scrutin::loadgen

// Fuzzes core::Ballot::Parse (laws.toml, written by an operator: trusted, but a typo must give an
// error, never a crash). Checks: it never crashes nor hits undefined behaviour (ASan/UBSan); a
// failure has a message; a parsed ballot has at least one law, well-formed unique ids that Find()
// returns, and closes_at after opens_at.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "core/ballot.hpp"
#include "core/normalise.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using scrutin::core::Ballot;
  using scrutin::core::Law;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ballot = Ballot::Parse(text);
  if (!ballot.ok()) {
    if (ballot.error().empty()) std::abort();
    return 0;
  }
  if (ballot->laws().empty()) std::abort();
  std::set<std::string> ids;
  for (const Law& law : ballot->laws()) {
    if (!scrutin::core::IsWellFormedLawId(law.id)) std::abort();
    if (!ids.insert(law.id).second) std::abort();
    if (!(law.closes_at > law.opens_at)) std::abort();
    if (ballot->Find(law.id) != &law) std::abort();
  }
  return 0;
}

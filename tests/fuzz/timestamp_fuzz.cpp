// Fuzzes core::ParseTimestamp (RFC 3339 text from laws.toml, tools and stores). Checks: it never
// crashes nor hits undefined behaviour (ASan/UBSan: e.g. a year the clock cannot hold must be
// rejected, not overflow); a timestamp it accepts within years 0000..9999 formats with
// FormatTimestamp and parses back to the same millisecond.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/vote.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace std::chrono;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = scrutin::core::ParseTimestamp(text);
  if (!t) return 0;
  // FormatTimestamp prints four-digit years only; beyond them no round trip is promised.
  const year y = year_month_day(floor<days>(*t)).year();
  if (y < year(0) || y > year(9999)) return 0;
  auto again = scrutin::core::ParseTimestamp(scrutin::core::FormatTimestamp(*t));
  if (!again || floor<milliseconds>(*again) != floor<milliseconds>(*t)) std::abort();
  return 0;
}

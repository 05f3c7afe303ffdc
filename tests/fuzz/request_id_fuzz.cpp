// Fuzzes core::RequestId::Parse, which reads the id in GET /api/v1/vote/{id} (untrusted). Checks:
// it never crashes (ASan/UBSan); an accepted id is 36 characters, prints back as the input in
// lower case, and parses again to the same value.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/request_id.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto id = scrutin::core::RequestId::Parse(text);
  if (!id) return 0;
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string printed = id->ToString();
  if (printed.size() != 36 || printed != lower) std::abort();
  auto again = scrutin::core::RequestId::Parse(printed);
  if (!again || !(*again == *id)) std::abort();
  return 0;
}

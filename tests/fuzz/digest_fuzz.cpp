// Fuzzes core::Digest::FromHex and core::HexDecode, which read digests from stores and tools.
// Checks: they never crash (ASan/UBSan); an accepted digest prints back as the input in lower case
// and parses again to the same value; HexDecode agrees with FromHex on 64-character input.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/digest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using scrutin::core::Digest;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto digest = Digest::FromHex(text);
  Digest raw;
  const bool decoded = scrutin::core::HexDecode(text, raw.bytes.data(), raw.bytes.size());
  if (decoded != digest.has_value()) std::abort();
  if (!digest) return 0;
  if (!(raw == *digest)) std::abort();
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (digest->ToHex() != lower) std::abort();
  auto again = Digest::FromHex(digest->ToHex());
  if (!again || !(*again == *digest)) std::abort();
  return 0;
}

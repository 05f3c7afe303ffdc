#include "core/digest.hpp"

namespace scrutin::core {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string HexEncode(const std::uint8_t* data, std::size_t size) {
  std::string out(size * 2, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kHexDigits[data[i] >> 4];
    out[2 * i + 1] = kHexDigits[data[i] & 0x0f];
  }
  return out;
}

bool HexDecode(std::string_view hex, std::uint8_t* out, std::size_t out_size) {
  if (hex.size() != out_size * 2) return false;
  for (std::size_t i = 0; i < out_size; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string Digest::ToHex() const { return HexEncode(bytes.data(), bytes.size()); }

std::optional<Digest> Digest::FromHex(std::string_view hex) {
  Digest d;
  if (!HexDecode(hex, d.bytes.data(), d.bytes.size())) return std::nullopt;
  return d;
}

}  // namespace scrutin::core

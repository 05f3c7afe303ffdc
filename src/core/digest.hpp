// Digest: the 32-byte credential digest (HMAC-SHA256 or SHA-256 of "nas|code|law_id").
// It is the only form in which a credential exists outside one request's memory.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace scrutin::core {

struct Digest {
  static constexpr std::size_t kSize = 32;
  std::array<std::uint8_t, kSize> bytes{};

  auto operator<=>(const Digest&) const = default;
  bool operator==(const Digest&) const = default;

  // 64 lowercase hex characters.
  std::string ToHex() const;
  // Accepts exactly 64 hex characters (either case); nullopt otherwise.
  static std::optional<Digest> FromHex(std::string_view hex);

  // The leading 64 bits, big-endian: digests are uniformly distributed, so this is a good hash
  // and a good bucket key.
  std::uint64_t Prefix64() const {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | bytes[i];
    return v;
  }
};

struct DigestHash {
  std::size_t operator()(const Digest& d) const noexcept {
    std::uint64_t v;
    std::memcpy(&v, d.bytes.data() + 8, sizeof v);
    return static_cast<std::size_t>(v);
  }
};

// Lowercase hex of any byte string.
std::string HexEncode(const std::uint8_t* data, std::size_t size);
// Decodes hex (either case) into out; false on a length or character error.
bool HexDecode(std::string_view hex, std::uint8_t* out, std::size_t out_size);

}  // namespace scrutin::core

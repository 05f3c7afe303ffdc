#include "core/request_id.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <cstdio>

#include "core/digest.hpp"

namespace scrutin::core {
namespace {

std::array<std::uint8_t, SHA256_DIGEST_LENGTH> Derive(std::string_view tag, const RequestId& id) {
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> out;
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, tag.data(), tag.size());
  SHA256_Update(&ctx, id.bytes.data(), id.bytes.size());
  SHA256_Final(out.data(), &ctx);
  return out;
}

std::string DeriveHex(std::string_view tag, const RequestId& id) {
  auto h = Derive(tag, id);
  return HexEncode(h.data(), 16);
}

}  // namespace

RequestId RequestId::Generate() {
  RequestId id;
  if (RAND_bytes(id.bytes.data(), static_cast<int>(id.bytes.size())) != 1) {
    // The CSPRNG failing is not an input error: nothing secret can be issued without it.
    std::fprintf(stderr, "fatal: OpenSSL RAND_bytes failed; refusing to issue request ids\n");
    std::abort();
  }
  id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
  id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return id;
}

std::optional<RequestId> RequestId::Parse(std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::nullopt;
  }
  std::string hex;
  hex.reserve(32);
  for (char c : text) {
    if (c != '-') hex.push_back(c);
  }
  RequestId id;
  if (!HexDecode(hex, id.bytes.data(), id.bytes.size())) return std::nullopt;
  return id;
}

std::string RequestId::ToString() const {
  std::string hex = HexEncode(bytes.data(), bytes.size());
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
         hex.substr(16, 4) + '-' + hex.substr(20, 12);
}

std::string StatusKey(const RequestId& id) { return DeriveHex("scrutin/status/v1", id); }

std::string ClaimTag(const RequestId& id) { return DeriveHex("scrutin/claim/v1", id); }

std::string Receipt(const RequestId& id) {
  static constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  auto h = Derive("scrutin/receipt/v1", id);
  std::string out;
  std::uint64_t acc = 0;
  int bits = 0, emitted = 0;
  for (int i = 0; i < 10; ++i) {  // 80 bits -> 16 base32 characters
    acc = (acc << 8) | h[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      if (emitted > 0 && emitted % 4 == 0) out.push_back('-');
      out.push_back(kCrockford[(acc >> bits) & 0x1f]);
      ++emitted;
    }
  }
  return out;
}

std::optional<std::string> ParseReceipt(std::string_view text) {
  static constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  if (text.size() > 32) return std::nullopt;
  std::string chars;
  for (char c : text) {
    if (c == '-') continue;
    char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (u == 'O') u = '0';
    if (u == 'I' || u == 'L') u = '1';
    if (kCrockford.find(u) == std::string_view::npos) return std::nullopt;
    chars.push_back(u);
  }
  if (chars.size() != 16) return std::nullopt;
  // Dashes only where Receipt() puts them, or none at all.
  if (text.size() != 16 &&
      !(text.size() == 19 && text[4] == '-' && text[9] == '-' && text[14] == '-')) {
    return std::nullopt;
  }
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i > 0 && i % 4 == 0) out.push_back('-');
    out.push_back(chars[i]);
  }
  return out;
}

}  // namespace scrutin::core

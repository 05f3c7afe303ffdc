#include "http/client_address.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace scrutin::http {

namespace net = boost::asio;

namespace {

std::array<std::uint8_t, 16> Bytes16(const net::ip::address& a) {
  std::array<std::uint8_t, 16> out{};
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, b.data(), 4);
  } else {
    auto b = a.to_v6().to_bytes();
    std::memcpy(out.data(), b.data(), 16);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<net::ip::address> ParseAddress(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 45) return std::nullopt;
  // "[v6]" and "[v6]:port" as some proxies write them; "v4:port" too.
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    text = text.substr(1, close - 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    text = text.substr(0, text.find(':'));
  }
  boost::system::error_code ec;
  auto a = net::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return net::ip::address(net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()));
  }
  return a;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::string_view kV1Signature = "PROXY ";

ProxyHeader ParseV1(std::string_view bytes) {
  ProxyHeader out;
  auto end = bytes.find("\r\n");
  if (end == std::string_view::npos) {
    out.status = bytes.size() >= 107 ? ProxyHeader::Status::kInvalid
                                     : ProxyHeader::Status::kNeedMore;
    return out;
  }
  if (end + 2 > 107) return {ProxyHeader::Status::kInvalid, 0, {}};
  std::string_view line = bytes.substr(kV1Signature.size(), end - kV1Signature.size());
  out.consumed = end + 2;
  std::vector<std::string_view> parts;
  while (!line.empty()) {
    auto sp = line.find(' ');
    parts.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  if (!parts.empty() && parts[0] == "UNKNOWN") {
    out.status = ProxyHeader::Status::kParsed;
    return out;
  }
  if (parts.size() != 5 || (parts[0] != "TCP4" && parts[0] != "TCP6")) {
    return {ProxyHeader::Status::kInvalid, 0, {}};
  }
  boost::system::error_code ec;
  auto src = net::ip::make_address(std::string(parts[1]), ec);
  if (ec || src.is_v4() != (parts[0] == "TCP4")) return {ProxyHeader::Status::kInvalid, 0, {}};
  for (int i : {3, 4}) {
    unsigned port = 0;
    auto r = std::from_chars(parts[i].data(), parts[i].data() + parts[i].size(), port);
    if (parts[i].empty() || r.ec != std::errc() || r.ptr != parts[i].data() + parts[i].size() ||
        port > 65535) {
      return {ProxyHeader::Status::kInvalid, 0, {}};
    }
  }
  out.status = ProxyHeader::Status::kParsed;
  out.source = src;
  return out;
}

ProxyHeader ParseV2(std::string_view bytes) {
  ProxyHeader out;
  if (bytes.size() < 16) return out;  // kNeedMore
  const auto* b = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const unsigned version = b[12] >> 4, command = b[12] & 0x0f;
  const unsigned family = b[13] >> 4, transport = b[13] & 0x0f;
  const std::size_t length = (std::size_t{b[14]} << 8) | b[15];
  if (version != 2 || command > 1 || 16 + length > ProxyHeader::kMaxBytes) {
    return {ProxyHeader::Status::kInvalid, 0, {}};
  }
  if (bytes.size() < 16 + length) return out;  // kNeedMore
  out.consumed = 16 + length;
  out.status = ProxyHeader::Status::kParsed;
  if (command == 0) return out;  // LOCAL: the proxy speaking for itself
  const bool stream_or_dgram = transport == 1 || transport == 2;
  if (family == 1 && stream_or_dgram) {  // AF_INET: src(4) dst(4) sport(2) dport(2)
    if (length < 12) return {ProxyHeader::Status::kInvalid, 0, {}};
    net::ip::address_v4::bytes_type a;
    std::memcpy(a.data(), b + 16, 4);
    out.source = net::ip::address(net::ip::address_v4(a));
  } else if (family == 2 && stream_or_dgram) {  // AF_INET6: src(16) dst(16) ports(4)
    if (length < 36) return {ProxyHeader::Status::kInvalid, 0, {}};
    net::ip::address_v6::bytes_type a;
    std::memcpy(a.data(), b + 16, 16);
    out.source = net::ip::address(net::ip::address_v6(a));
  }
  // AF_UNSPEC / AF_UNIX: no IP client; the peer stays the client.
  return out;
}

}  // namespace

core::Result<TrustedProxies> TrustedProxies::Parse(std::string_view list) {
  TrustedProxies out;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view item = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    auto fail = [&] {
      return core::Fail("trusted proxy '" + std::string(item) +
                        "' is not an address or CIDR range (e.g. 10.0.0.0/8, 192.0.2.7, "
                        "fd00::/8)");
    };
    std::string_view addr = item, bits;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      addr = item.substr(0, slash);
      bits = item.substr(slash + 1);
    }
    boost::system::error_code ec;
    auto a = net::ip::make_address(std::string(addr), ec);
    if (ec) return fail();
    const unsigned max_bits = a.is_v4() ? 32 : 128;
    unsigned prefix = max_bits;
    if (!bits.empty() || addr.size() != item.size()) {
      auto r = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (bits.empty() || r.ec != std::errc() || r.ptr != bits.data() + bits.size() ||
          prefix > max_bits) {
        return fail();
      }
    }
    Range range;
    range.network = Bytes16(a);
    range.prefix = a.is_v4() ? 96 + prefix : prefix;
    out.ranges_.push_back(range);
  }
  return out;
}

bool TrustedProxies::Contains(const net::ip::address& address) const {
  if (ranges_.empty()) return false;
  net::ip::address a = address;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  }
  const auto bytes = Bytes16(a);
  for (const Range& r : ranges_) {
    unsigned full = r.prefix / 8, rest = r.prefix % 8;
    if (std::memcmp(bytes.data(), r.network.data(), full) != 0) continue;
    if (rest != 0) {
      const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
      if ((bytes[full] & mask) != (r.network[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

ProxyHeader ParseProxyHeader(std::string_view bytes) {
  // Compare what has arrived with each signature; a prefix of one needs more bytes.
  auto match = [&](std::string_view sig) {
    std::size_t n = std::min(bytes.size(), sig.size());
    return bytes.substr(0, n) == sig.substr(0, n);
  };
  const bool v1 = match(kV1Signature), v2 = match(kV2Signature);
  if (!v1 && !v2) return {ProxyHeader::Status::kAbsent, 0, {}};
  if (bytes.size() < kV1Signature.size() ||
      (v2 && !v1 && bytes.size() < kV2Signature.size())) {
    return {};  // kNeedMore
  }
  if (StartsWith(bytes, kV1Signature)) return ParseV1(bytes);
  if (StartsWith(bytes, kV2Signature)) return ParseV2(bytes);
  return {ProxyHeader::Status::kAbsent, 0, {}};
}

net::ip::address ForwardedClient(const net::ip::address& peer, std::string_view forwarded_for,
                                 const TrustedProxies& trusted) {
  if (forwarded_for.empty() || !trusted.Contains(peer)) return peer;
  net::ip::address client = peer;
  // Walk from the right: each hop was appended by the proxy before it.
  for (int hops = 0; hops < 32 && !forwarded_for.empty(); ++hops) {
    auto comma = forwarded_for.rfind(',');
    std::string_view item = comma == std::string_view::npos
                                ? forwarded_for
                                : forwarded_for.substr(comma + 1);
    forwarded_for =
        comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
    auto a = ParseAddress(item);
    if (!a) break;
    client = *a;
    if (!trusted.Contains(client)) break;
  }
  return client;
}

}  // namespace scrutin::http

// Who the client is when a trusted proxy (a load balancer, a TLS terminator) stands in front of
// the server: the proxies the operator trusts (`--trusted-proxies CIDR,...`), the PROXY protocol
// header (v1 text and v2 binary, as HAProxy specifies them) such a proxy may put at the start of a
// connection, and the X-Forwarded-For header it may add to each request.
//
// Only a peer inside a trusted range may name another client; anyone else is the client itself,
// and a PROXY header from them is not HTTP (400). These are pure functions over bytes: the server
// (server.cpp) feeds them, and the fuzz target tests/fuzz/http_request_fuzz.cpp does too.
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace scrutin::http {

class TrustedProxies {
 public:
  // "10.0.0.0/8,192.168.1.7,fd00::/8" (a bare address is a /32 or /128); "" trusts nobody.
  // Error (one sentence naming the bad entry) otherwise.
  static core::Result<TrustedProxies> Parse(std::string_view list);

  bool Contains(const boost::asio::ip::address& address) const;
  bool empty() const { return ranges_.empty(); }

 private:
  struct Range {
    std::array<std::uint8_t, 16> network{};  // IPv4 as ::ffff:a.b.c.d
    unsigned prefix = 0;                     // bits of `network` that must match (of 128)
  };
  std::vector<Range> ranges_;
};

// The outcome of reading a PROXY protocol header from the first bytes of a connection.
struct ProxyHeader {
  enum class Status : std::uint8_t {
    kNeedMore,  // a prefix of a header: read more bytes (a header is at most kMaxBytes)
    kAbsent,    // the bytes do not start with a PROXY signature: plain HTTP follows
    kParsed,    // a header of `consumed` bytes; `source` is the client it names, if any
    kInvalid,   // a PROXY signature with a malformed header: close the connection
  };
  static constexpr std::size_t kMaxBytes = 536;  // v2: 16 + 520 (v1: 107)

  Status status = Status::kNeedMore;
  std::size_t consumed = 0;
  // The client's address (TCP/UDP over IPv4 or IPv6); empty for "UNKNOWN"/LOCAL headers (the
  // proxy's own health checks), which leave the peer as the client.
  std::optional<boost::asio::ip::address> source;
};

ProxyHeader ParseProxyHeader(std::string_view bytes);

// The client a request from `peer` speaks for: `peer` itself unless it is a trusted proxy; then
// the right-most address of X-Forwarded-For that is not itself a trusted proxy (earlier entries
// were written by the client and prove nothing). A malformed entry ends the walk: the last good
// address (or the peer) is used. `forwarded_for` is every X-Forwarded-For field joined by ",".
boost::asio::ip::address ForwardedClient(const boost::asio::ip::address& peer,
                                         std::string_view forwarded_for,
                                         const TrustedProxies& trusted);

}  // namespace scrutin::http

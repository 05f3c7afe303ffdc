// Trusted proxies, the PROXY protocol header (v1 and v2) and X-Forwarded-For: only a trusted peer
// may name another client, and a malformed header never names one.
#include "http/client_address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace scrutin::http {
namespace {

namespace net = boost::asio;
using Status = ProxyHeader::Status;

net::ip::address A(const char* text) { return net::ip::make_address(text); }

TEST(TrustedProxies, ParsesAddressesAndRanges) {
  auto t = TrustedProxies::Parse("10.0.0.0/8, 192.0.2.7,fd00::/8");
  ASSERT_TRUE(t) << t.error();
  EXPECT_TRUE(t->Contains(A("10.1.2.3")));
  EXPECT_TRUE(t->Contains(A("::ffff:10.1.2.3")));
  EXPECT_TRUE(t->Contains(A("192.0.2.7")));
  EXPECT_FALSE(t->Contains(A("192.0.2.8")));
  EXPECT_TRUE(t->Contains(A("fd12::1")));
  EXPECT_FALSE(t->Contains(A("fe80::1")));
  EXPECT_FALSE(t->Contains(A("11.0.0.1")));
}

TEST(TrustedProxies, RefusesWhatIsNotARange) {
  EXPECT_FALSE(TrustedProxies::Parse("10.0.0.0/33"));
  EXPECT_FALSE(TrustedProxies::Parse("example.org"));
  EXPECT_FALSE(TrustedProxies::Parse("10.0.0.0/"));
  EXPECT_TRUE(TrustedProxies::Parse("")->empty());
}

TEST(ForwardedClient, OnlyATrustedPeerNamesTheClient) {
  auto t = *TrustedProxies::Parse("10.0.0.0/8");
  EXPECT_EQ(ForwardedClient(A("192.0.2.1"), "203.0.113.9", t), A("192.0.2.1"));
  EXPECT_EQ(ForwardedClient(A("10.0.0.5"), "203.0.113.9", t), A("203.0.113.9"));
  EXPECT_EQ(ForwardedClient(A("10.0.0.5"), "", t), A("10.0.0.5"));
}

TEST(ForwardedClient, TheRightmostUntrustedHopWins) {
  auto t = *TrustedProxies::Parse("10.0.0.0/8");
  // The client wrote "1.2.3.4" itself; the proxy appended the address it saw.
  EXPECT_EQ(ForwardedClient(A("10.0.0.5"), "1.2.3.4, 203.0.113.9, 10.0.0.7", t),
            A("203.0.113.9"));
  EXPECT_EQ(ForwardedClient(A("10.0.0.5"), "garbage, 203.0.113.9", t), A("203.0.113.9"));
  EXPECT_EQ(ForwardedClient(A("10.0.0.5"), "203.0.113.9, garbage", t), A("10.0.0.5"));
  EXPECT_EQ(ForwardedClient(A("10.0.0.5"), "[2001:db8::1]:443", t), A("2001:db8::1"));
}

TEST(ProxyHeader, V1) {
  auto h = ParseProxyHeader("PROXY TCP4 203.0.113.9 10.0.0.1 51000 443\r\nGET / HTTP/1.1\r\n");
  ASSERT_EQ(h.status, Status::kParsed);
  EXPECT_EQ(h.consumed, std::string("PROXY TCP4 203.0.113.9 10.0.0.1 51000 443\r\n").size());
  EXPECT_EQ(*h.source, A("203.0.113.9"));
  h = ParseProxyHeader("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n");
  ASSERT_EQ(h.status, Status::kParsed);
  EXPECT_EQ(*h.source, A("2001:db8::1"));
  h = ParseProxyHeader("PROXY UNKNOWN\r\n");
  ASSERT_EQ(h.status, Status::kParsed);
  EXPECT_FALSE(h.source);
}

TEST(ProxyHeader, V1Malformed) {
  EXPECT_EQ(ParseProxyHeader("PROXY TCP4 203.0.113.9 10.0.0.1 51000\r\n").status,
            Status::kInvalid);
  EXPECT_EQ(ParseProxyHeader("PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n").status, Status::kInvalid);
  EXPECT_EQ(ParseProxyHeader("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n").status, Status::kInvalid);
  EXPECT_EQ(ParseProxyHeader("PROXY " + std::string(200, 'x')).status, Status::kInvalid);
}

TEST(ProxyHeader, PrefixesNeedMoreAndHttpIsAbsent) {
  EXPECT_EQ(ParseProxyHeader("PRO").status, Status::kNeedMore);
  EXPECT_EQ(ParseProxyHeader("PROXY TCP4 1.2").status, Status::kNeedMore);
  EXPECT_EQ(ParseProxyHeader(std::string("\r\n\r\n\0", 5)).status, Status::kNeedMore);
  EXPECT_EQ(ParseProxyHeader("GET / HTTP/1.1\r\n").status, Status::kAbsent);
  EXPECT_EQ(ParseProxyHeader("POST /api/v1/vote").status, Status::kAbsent);
}

std::string V2(unsigned char command, unsigned char family, const std::string& addresses) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h.push_back(static_cast<char>(0x20 | command));
  h.push_back(static_cast<char>(family));
  h.push_back(static_cast<char>(addresses.size() >> 8));
  h.push_back(static_cast<char>(addresses.size() & 0xff));
  return h + addresses;
}

TEST(ProxyHeader, V2) {
  std::string v4 = {'\xcb', '\x00', '\x71', '\x09', 10, 0, 0, 1, '\xc7', '\x38', 1, '\xbb'};
  auto h = ParseProxyHeader(V2(1, 0x11, v4) + "GET /");
  ASSERT_EQ(h.status, Status::kParsed);
  EXPECT_EQ(h.consumed, 28u);
  EXPECT_EQ(*h.source, A("203.0.113.9"));
  // LOCAL (the proxy's own health check): no client named.
  h = ParseProxyHeader(V2(0, 0x00, ""));
  ASSERT_EQ(h.status, Status::kParsed);
  EXPECT_FALSE(h.source);
  // Truncated address block, wrong version, oversized length.
  EXPECT_EQ(ParseProxyHeader(V2(1, 0x11, "abc")).status, Status::kInvalid);
  std::string bad = V2(1, 0x11, v4);
  bad[12] = 0x31;
  EXPECT_EQ(ParseProxyHeader(bad).status, Status::kInvalid);
  EXPECT_EQ(ParseProxyHeader(V2(1, 0x11, std::string(600, 'x'))).status, Status::kInvalid);
  EXPECT_EQ(ParseProxyHeader(V2(1, 0x11, v4).substr(0, 20)).status, Status::kNeedMore);
}

}  // namespace
}  // namespace scrutin::http

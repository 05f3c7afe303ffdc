#include "adapters/redis/redis_target.hpp"

#include <charconv>

namespace scrutin::redis {

using core::Fail;

std::string Endpoint::ToString() const { return host + ":" + std::to_string(port); }

core::Result<Endpoint> ParseEndpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Fail("redis address '" + std::string(text) + "' is not host:port");
  }
  Endpoint ep;
  ep.host = std::string(text.substr(0, colon));
  auto port_text = text.substr(colon + 1);
  // CLUSTER SLOTS / MOVED may carry "host:port@cport" in some versions.
  if (auto at = port_text.find('@'); at != std::string_view::npos)
    port_text = port_text.substr(0, at);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), ep.port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || ep.port < 1 ||
      ep.port > 65535) {
    return Fail("redis address '" + std::string(text) + "' has no valid port");
  }
  return ep;
}

core::Result<RedisTarget> ParseRedisTarget(std::string_view url) {
  RedisTarget t;
  std::string_view rest = url;
  if (rest.starts_with("redis://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("redis-cluster://")) {
    rest.remove_prefix(16);
    t.cluster = true;
  } else if (rest.find("://") != std::string_view::npos) {
    return Fail("unsupported redis URL scheme in '" + std::string(url) +
                "' (expected redis:// or redis-cluster://)");
  } else {
    t.cluster = true;  // bare host:port list
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    t.password =
        std::string(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    auto db_text = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db_text.empty()) {
      if (t.cluster) return Fail("a redis cluster URL cannot select a database");
      auto [ptr, ec] = std::from_chars(db_text.data(), db_text.data() + db_text.size(), t.db);
      if (ec != std::errc() || ptr != db_text.data() + db_text.size() || t.db < 0) {
        return Fail("redis URL '" + std::string(url) + "' has a bad database number");
      }
    }
  }
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto part = rest.substr(0, comma);
    auto ep = ParseEndpoint(part);
    if (!ep.ok()) return Fail(ep.error());
    t.nodes.push_back(*ep);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (t.nodes.empty()) return Fail("redis URL '" + std::string(url) + "' names no host:port");
  if (!t.cluster && t.nodes.size() != 1) {
    return Fail("redis:// names one node; use redis-cluster://h:p,h:p for a cluster");
  }
  return t;
}

}  // namespace scrutin::redis

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
  struct Scheme {
    std::string_view prefix;
    bool cluster, tls;
  };
  static constexpr Scheme kSchemes[] = {{"redis://", false, false},
                                        {"redis-cluster://", true, false},
                                        {"rediss://", false, true},
                                        {"rediss-cluster://", true, true}};
  bool matched = false;
  for (const auto& s : kSchemes) {
    if (rest.starts_with(s.prefix)) {
      rest.remove_prefix(s.prefix.size());
      t.cluster = s.cluster;
      t.tls = s.tls;
      matched = true;
      break;
    }
  }
  if (!matched) {
    if (rest.find("://") != std::string_view::npos) {
      return Fail("unsupported redis URL scheme in '" + std::string(url) +
                  "' (expected redis://, redis-cluster://, rediss:// or rediss-cluster://)");
    }
    t.cluster = true;  // bare host:port list
  }
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    if (!t.tls) return Fail(std::string("a redis URL takes ?cacert=FILE only with rediss://"));
    if (!query.starts_with("cacert=") || query.size() == 7 ||
        query.find('&') != std::string_view::npos) {
      return Fail("redis URL '" + std::string(url) +
                  "': the only query parameter is cacert=FILE (the CA to verify the nodes with)");
    }
    t.ca_file = std::string(query.substr(7));
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      t.password = std::string(userinfo);
    } else {
      t.user = std::string(userinfo.substr(0, colon));
      t.password = std::string(userinfo.substr(colon + 1));
    }
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

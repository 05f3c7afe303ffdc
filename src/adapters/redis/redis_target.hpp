// Where a Redis client connects: one node or a cluster's seeds, the password and database, parsed
// from the URL forms the commands accept. Pure functions, callable from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace scrutin::redis {

struct Endpoint {
  std::string host;
  int port = 6379;

  bool operator==(const Endpoint&) const = default;
  std::string ToString() const;  // "host:port"
};

// "host:port" (port 1..65535). Error naming the bad part otherwise.
core::Result<Endpoint> ParseEndpoint(std::string_view text);

// Where the data lives. Parsed from a URL:
//   redis://[:password@]host:port[/db]             one node (db 0 unless given)
//   redis-cluster://[:password@]host:port[,host:port...]  a cluster, from any of its nodes
//   host:port,host:port,...                        a cluster too (REDIS_CLUSTER_NODES form)
struct RedisTarget {
  bool cluster = false;
  std::vector<Endpoint> nodes;  // single: exactly one; cluster: seeds
  std::string password;         // empty: no AUTH
  int db = 0;                   // single node only
};
core::Result<RedisTarget> ParseRedisTarget(std::string_view url);

}  // namespace scrutin::redis

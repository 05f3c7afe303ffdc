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
//   redis://[[user]:password@]host:port[/db]             one node (db 0 unless given)
//   redis-cluster://[[user]:password@]host:port[,host:port...]  a cluster, from any of its nodes
//   host:port,host:port,...                              a cluster too (REDIS_CLUSTER_NODES form)
//   rediss://...  rediss-cluster://...                   the same over TLS (Redis's tls-port):
//       TLS 1.2 or 1.3, the node's certificate verified against `?cacert=FILE` (default: the
//       system's trust store) and its name or IP address against the host the client connects
//       to (the URL's, or one a cluster's slot map names)
// A user name sends `AUTH user password` (a Redis 6+ ACL user), a password alone `AUTH password`.
struct RedisTarget {
  bool cluster = false;
  std::vector<Endpoint> nodes;  // single: exactly one; cluster: seeds
  std::string user;             // empty: the default user
  std::string password;         // empty: no AUTH
  int db = 0;                   // single node only
  bool tls = false;
  std::string ca_file;  // empty: the system's trust store
};
core::Result<RedisTarget> ParseRedisTarget(std::string_view url);

}  // namespace scrutin::redis

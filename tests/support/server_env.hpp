// Where a test suite finds the real server it needs (PostgreSQL, Redis, Redis Cluster, RabbitMQ).
//
// Under ctest the fixtures of cmake/scrutin.cmake start each server with scripts/servers/start,
// which writes its settings as KEY=VALUE lines to $SCRUTIN_TEST_SERVERS_DIR/<kind>/env. A person
// running a suite by hand may instead export the variable itself (e.g. REDIS_URL=redis://...),
// which takes precedence.
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

namespace scrutin::testing {

// The value of `key` (e.g. "REDIS_URL") for the server `kind` ("pg", "redis", "redis-cluster",
// "rmq"): the environment variable `key` when set and non-empty, else the line `key=...` of the
// kind's env file. Empty when neither exists.
inline std::string ServerSetting(std::string_view kind, const std::string& key) {
  if (const char* v = std::getenv(key.c_str()); v != nullptr && *v != '\0') return v;
  std::string dir;
  if (const char* d = std::getenv("SCRUTIN_TEST_SERVERS_DIR"); d != nullptr && *d != '\0') {
    dir = d;
  } else {
#ifdef SCRUTIN_TEST_SERVERS_DIR
    dir = SCRUTIN_TEST_SERVERS_DIR;
#endif
  }
  if (dir.empty()) return {};
  std::ifstream in(dir + "/" + std::string(kind) + "/env");
  std::string line;
  const std::string prefix = key + "=";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  return {};
}

// One sentence telling how to provide the server, for a test's failure message.
inline std::string ServerHint(std::string_view kind, std::string_view key) {
  return std::string(key) + " is not set and no " + std::string(kind) +
         " server was started by the ctest fixture: run the suite through ctest, or start one with "
         "`scripts/servers/start " +
         std::string(kind) + " DIR` and export its " + std::string(key);
}

}  // namespace scrutin::testing

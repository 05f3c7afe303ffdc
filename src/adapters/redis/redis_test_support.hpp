// Shared set-up of the Redis suites: a client pool on the server the ctest fixture started (single
// node or 3-master cluster), random digests, and a fresh key prefix per test so that tests running
// in parallel on one server never see each other's keys.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "adapters/redis/redis_client.hpp"
#include "core/digest.hpp"
#include "core/request_id.hpp"
#include "support/server_env.hpp"

namespace scrutin::redis::testing {

enum class Mode { kSingle, kCluster };

// So that ctest's test names read "... # GetParam() = cluster".
inline void PrintTo(Mode mode, std::ostream* os) {
  *os << (mode == Mode::kSingle ? "single" : "cluster");
}

inline std::string ModeName(const ::testing::TestParamInfo<Mode>& info) {
  return info.param == Mode::kSingle ? "Single" : "Cluster";
}

// The target of the fixture's server; empty nodes (and a failure message in `why`) when none.
inline RedisTarget TargetFor(Mode mode, std::string& why) {
  const char* kind = mode == Mode::kSingle ? "redis" : "redis-cluster";
  const char* key = mode == Mode::kSingle ? "REDIS_URL" : "REDIS_CLUSTER_NODES";
  std::string url = scrutin::testing::ServerSetting(kind, key);
  if (url.empty()) {
    why = scrutin::testing::ServerHint(kind, key);
    return {};
  }
  auto target = ParseRedisTarget(url);
  if (!target.ok()) {
    why = target.error();
    return {};
  }
  return *target;
}

inline std::mt19937_64& Rng() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

inline std::string UniquePrefix() { return "t" + std::to_string(Rng()() % 1000000000000ULL) + ":"; }

inline std::vector<core::Digest> RandomDigests(std::size_t n) {
  std::vector<core::Digest> out(n);
  for (auto& d : out) {
    for (std::size_t i = 0; i < d.bytes.size(); i += 8) {
      std::uint64_t v = Rng()();
      for (std::size_t k = 0; k < 8; ++k) d.bytes[i + k] = static_cast<std::uint8_t>(v >> (8 * k));
    }
  }
  return out;
}

inline std::string Tag() { return core::ClaimTag(core::RequestId::Generate()); }

// Every key of `prefix` on every master (SCAN per node), as "what a FLUSHALL would take" without
// flushing a server other tests share. `only` (when non-empty) restricts it to that master.
inline std::vector<std::pair<Endpoint, std::string>> KeysOf(RedisClient& client,
                                                            const std::string& prefix,
                                                            const Endpoint* only = nullptr) {
  std::vector<std::pair<Endpoint, std::string>> keys;
  for (const auto& node : client.Masters()) {
    if (only != nullptr && !(node == *only)) continue;
    std::string cursor = "0";
    do {
      auto r = client.ExecuteOn(
          node, Command::Keyless({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"}));
      if (!r.ok() || r->type != Reply::Type::kArray || r->elements.size() != 2) {
        ADD_FAILURE() << "SCAN on " << node.ToString() << " failed";
        return keys;
      }
      cursor = r->elements[0].str;
      for (const auto& k : r->elements[1].elements) keys.emplace_back(node, k.str);
    } while (cursor != "0");
  }
  return keys;
}

// Deletes every key of `prefix` (on `only`, when given): the loss of a FLUSHALL, limited to this
// test's keys. Returns how many were deleted.
inline std::size_t DeleteKeysOf(RedisClient& client, const std::string& prefix,
                                const Endpoint* only = nullptr) {
  std::size_t n = 0;
  for (const auto& [node, key] : KeysOf(client, prefix, only)) {
    auto r = client.ExecuteOn(node, Command::Keyless({"DEL", key}));
    if (r.ok() && r->type == Reply::Type::kInteger) n += static_cast<std::size_t>(r->integer);
  }
  return n;
}

}  // namespace scrutin::redis::testing

// ASSERT that a core::Status / core::Result is ok, printing its error otherwise.
#define SCRUTIN_ASSERT_OK(expr)                                   \
  do {                                                            \
    auto scrutin_status_ = (expr);                                \
    ASSERT_TRUE(scrutin_status_.ok()) << scrutin_status_.error(); \
  } while (0)

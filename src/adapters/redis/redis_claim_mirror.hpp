// RedisClaimMirror: ports::ClaimMirror over the credential ledger in Redis (ledger_layout.hpp).
// The aggregator calls it after each commit with the claims PostgreSQL now holds; one atomic
// script per claim, pipelined per node, writes the claim into the digest's bucket unless the ledger
// already agrees.
//
// Why it also writes into a bucket that has no marker (Redis lost it, a rebuild has not reached it
// yet): `scrutin ledger rebuild` restores a bucket by adding what is missing (HSETNX) and never
// removes a claim the record holds, so a claim written before the rebuild reaches its bucket
// survives it, and one written after lands in the rebuilt bucket. Either way a single rebuild pass
// ends with every recorded claim in Redis. A bucket without a marker still refuses to decide
// (the claim script checks the marker), so the claim alone never makes a validator decide early.
// A bucket whose marker names another ledger (another eligibility database loaded under the same
// prefix) is left alone and counted as skipped.
//
// The layout (bucket bits, ledger id) is read from the ledger's meta key on first use and cached;
// while Redis has no ledger under the prefix (flushed, not rebuilt yet) the claims are skipped and
// the meta key is read again at the next call. Once the rebuild has started it has written the
// bucket bits, so a commit after the rebuild's snapshot of the record is mirrored.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_client_pool.hpp"
#include "core/mutex.hpp"
#include "ports/claim_mirror.hpp"

namespace scrutin::redis {

class RedisClaimMirror final : public ports::ClaimMirror {
 public:
  explicit RedisClaimMirror(std::shared_ptr<RedisClientPool> pool,
                            std::string prefix = std::string(kDefaultPrefix))
      : pool_(std::move(pool)), prefix_(std::move(prefix)) {}

  // See ports::ClaimMirror. Every claim_tag must be core::ClaimTag(...) (32 hex characters):
  // kRefused, before anything is sent, otherwise. Thread-safe (a client leased per call).
  core::Result<ports::MirrorReport> Reassert(std::span<const ports::ClaimRequest> claims) override;

 private:
  // The cached layout, or the meta key's when none is cached (nullopt: no ledger under the
  // prefix). A layout without an id (a rebuild or load in progress) is used but not cached.
  core::Result<std::optional<LedgerLayout>> Layout(RedisClient& client, bool reread) EXCLUDES(mu_);

  const std::shared_ptr<RedisClientPool> pool_;
  const std::string prefix_;
  core::Mutex mu_;
  std::optional<LedgerLayout> layout_ GUARDED_BY(mu_);
};

}  // namespace scrutin::redis

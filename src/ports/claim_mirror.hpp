// ClaimMirror: keeps a rebuildable copy of the credential claims in step with the record. In the
// distributed shape the validators decide against the ledger in Redis, a fast index of what
// PostgreSQL (the record) holds; Redis can lose claims (a FLUSHALL, a restart that lost its last
// second of AOF, a failover to a stale replica), and `scrutin ledger rebuild` restores them from a
// snapshot of the record. A claim the record gains after that snapshot was read would be missing
// from the rebuilt ledger; the aggregator therefore re-asserts every claim it has just recorded,
// so that once a voter is told `accepted`, the ledger holds that claim too, whatever the order of
// the rebuild and the commit.
//
// Implementation: RedisClaimMirror (adapters/redis/redis_claim_mirror.hpp). The embedded shape
// needs none (its ledger lives in the process that writes the record).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/result.hpp"
#include "ports/credential_ledger.hpp"

namespace scrutin::ports {

struct MirrorReport {
  std::uint64_t restored = 0;   // the ledger had the credential unclaimed (or not at all)
  std::uint64_t replaced = 0;   // the ledger had another request holding it: the record's wins
  std::uint64_t unchanged = 0;  // the ledger already agreed
  // Not written: the mirror cannot place them yet (no ledger under its prefix, whose layout it
  // needs) or the ledger there is another election's. A rebuild that starts afterwards reads them
  // from the record.
  std::uint64_t skipped = 0;
};

class ClaimMirror {
 public:
  virtual ~ClaimMirror() = default;

  // Makes the ledger hold each claim: the credential claimed by claim_tag, keeping the attempt
  // count the ledger has (at least 1). Call it only with claims the record holds, after they are
  // durable there. Idempotent. Success: the report says what changed. Error (kUnavailable: the
  // ledger's backend unreachable or timing out): some claims may be written; calling again with
  // the same claims is safe. Thread-safe. Blocking: up to the client's network timeouts; never
  // from an HTTP thread.
  virtual core::Result<MirrorReport> Reassert(std::span<const ClaimRequest> claims) = 0;
};

using ClaimMirrorPtr = std::unique_ptr<ClaimMirror>;

}  // namespace scrutin::ports

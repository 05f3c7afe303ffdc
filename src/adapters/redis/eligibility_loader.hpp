// Loading the eligibility database into Redis (what `scrutin load-hashes` runs), and reading how
// much memory Redis uses for it.
//
// Loading is idempotent: a digest already present keeps its value, so loading again (after a
// crash, or the same database twice) never resets a claim. The bucket size is fixed by the first
// load under a prefix and recorded in the ledger's meta key; later loads reuse it.
//
// The loader writes the ledger's identity (ledger_layout.hpp): the marker of every bucket, then
// the meta key's `count` and, last, its `id`. It creates a missing marker only while the prefix
// holds no finished ledger (no `id` yet): in a ledger that exists, a bucket without its marker lost
// its data, claims included, and only `scrutin ledger rebuild` (which knows the claims) may mark
// it again; the load counts such buckets in buckets_lost and leaves them unmarked, so the
// validators keep refusing to decide on them. Loading another database (another id) under a prefix
// re-marks every bucket with the new id: validators that opened the old one get kStateLost until
// they are restarted.
//
// What this cannot tell: a Redis that lost everything (FLUSHALL, a restart without persistence)
// looks like one that never held a ledger, so load-hashes there creates a fresh ledger without
// the claims. After a loss, run `scrutin ledger rebuild`, never load-hashes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "adapters/redis/ledger_layout.hpp"
#include "adapters/redis/redis_client.hpp"
#include "core/digest.hpp"
#include "core/result.hpp"

namespace scrutin::redis {

struct LoadOptions {
  std::string prefix{kDefaultPrefix};
  // 0: chosen from the number of digests so that buckets average about 256 entries (and the
  // largest stays under the listpack limit). Ignored when the prefix was loaded before.
  std::uint32_t bucket_bits = 0;
  // Buckets sent per pipelined round trip (each bucket is one command carrying its fields).
  std::size_t buckets_per_round_trip = 64;
  // Raise hash-max-listpack-entries/-value on every master first (CONFIG SET). When Redis refuses
  // (CONFIG disabled), the load goes on with buckets sized for the server's current limit.
  bool configure_listpack = true;
  // Called after each round trip with (digests done, total). May be empty.
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

struct LoadReport {
  std::uint64_t digests = 0;       // distinct digests given
  std::uint64_t added = 0;         // newly inserted (the rest were present already)
  std::uint64_t ledger_total = 0;  // entries in the ledger after the load
  std::uint32_t bucket_bits = 0;
  std::string id;                    // the ledger id (LedgerId of the digests)
  bool new_ledger = false;           // the prefix held no finished ledger before this load
  std::uint64_t buckets_lost = 0;    // buckets of an existing ledger found without their marker
  std::uint32_t largest_bucket = 0;  // entries of the largest bucket this load touched
  bool listpack_configured = false;  // CONFIG SET succeeded on every master
  std::uint64_t used_memory = 0;     // INFO used_memory after the load, summed over masters
};

// Loads `digests` (any order; duplicates are counted once) under options.prefix. Error when Redis
// is unreachable or refuses a command; the part loaded so far stays (loading again completes it).
core::Result<LoadReport> LoadEligibility(RedisClient& client, std::span<const core::Digest> digests,
                                         const LoadOptions& options = {});

// The layout a load of `sorted` digests under `prefix` uses, shared by the loader and the
// rebuild: the recorded bucket_bits when the prefix holds a ledger or a started load; else chosen
// (`bucket_bits`, or ChooseBucketBits when 0, for the listpack limit in force) and recorded with
// HSETNX so that concurrent loaders agree; the same digests always get the same bits. `id` is
// LedgerId(sorted); `recorded_id` the meta key's id before this call (empty when none); CONFIG SET
// of the listpack limits first when `configure_listpack` (listpack_configured tells whether every
// master accepted). REQUIRES: `sorted` ascending.
struct PreparedLedger {
  LedgerLayout layout;
  std::string recorded_id;
  bool listpack_configured = false;
};
core::Result<PreparedLedger> PrepareLedger(RedisClient& client,
                                           std::span<const core::Digest> sorted,
                                           std::string_view prefix, std::uint32_t bucket_bits,
                                           bool configure_listpack);

// INFO memory used_memory, summed over every master (single node: the node).
core::Result<std::uint64_t> UsedMemory(RedisClient& client);

// Sets hash-max-listpack-entries / -value on every master to the layout's values. Error naming the
// node that refused.
core::Status ConfigureListpack(RedisClient& client);

// The smallest bucket_bits (8..24) for which the largest bucket of these digests holds at most
// `max_entries`, and the average at most 256.
std::uint32_t ChooseBucketBits(std::span<const core::Digest> digests, std::uint32_t max_entries);

}  // namespace scrutin::redis

// How the credential ledger is laid out in Redis (docs/architecture.md "The distributed pipeline").
//
// Eligible digests are bucketed by their leading `bucket_bits` bits into small hashes:
//
//   key    <prefix>{e:<bucket in hex>}   the hash tag makes one bucket one cluster slot, so the
//                                         vote script touches a single key on a single node
//   field  the last 16 bytes of the digest, raw
//   value  ""                             eligible, not yet claimed
//          <claim tag: 16 raw bytes><attempts in decimal>   claimed, with the attempt count
//   field  <digest suffix><claim tag> (32 bytes) -> attempt number in decimal: a duplicate attempt
//          made by that request, so that its redelivery is answered the same, not counted again
//          (only for credentials tried more than once; readers of the ledger skip these fields)
//
// Why 16 bytes of field and not 32: the bucket already fixes the leading bits, so a lookup compares
// bucket_bits + 128 bits of the digest. A credential that is not eligible matches an eligible one
// with probability about N / 2^(128 + bucket_bits) (< 2^-120 at 8M voters), and two eligible
// digests collide with probability about N^2 / 2^(129 + bucket_bits) (< 2^-95); the loader checks
// the count anyway. Guessing a credential is bounded by the NAS x code space long before that, so
// the truncation costs no security and halves the memory per voter.
//
// Buckets are sized so that each hash stays listpack-encoded (a flat array, ~20 bytes per entry)
// instead of a hashtable (~100 bytes per entry): the loader raises hash-max-listpack-entries to
// kListpackEntries with CONFIG SET; a production redis.conf must carry the same line, or buckets
// converted after a restart will use several times the memory (see README of this folder).
//
// The meta key <prefix>ledger records bucket_bits so that every validator agrees with the loader.
#pragma once

#include <cstdint>
#include <string>

#include "adapters/redis/redis_client.hpp"
#include "core/digest.hpp"
#include "core/result.hpp"

namespace scrutin::redis {

inline constexpr std::size_t kFieldBytes = 16;
inline constexpr std::size_t kClaimTagBytes = 16;
// hash-max-listpack-entries the loader sets (Redis's default is 128).
inline constexpr int kListpackEntries = 1024;
inline constexpr int kListpackValue = 64;
inline constexpr std::string_view kDefaultPrefix = "sc:";

struct LedgerLayout {
  std::string prefix{kDefaultPrefix};
  std::uint32_t bucket_bits = 12;

  std::uint64_t Bucket(const core::Digest& d) const { return d.Prefix64() >> (64 - bucket_bits); }
  std::string BucketKey(std::uint64_t bucket) const;
  std::string BucketKey(const core::Digest& d) const { return BucketKey(Bucket(d)); }
  static std::string Field(const core::Digest& d) {
    return std::string(
        reinterpret_cast<const char*>(d.bytes.data()) + (core::Digest::kSize - kFieldBytes),
        kFieldBytes);
  }
  std::string MetaKey() const { return prefix + "ledger"; }
};

// Reads the layout the loader recorded under `prefix`. Error when nothing was loaded there
// ("run scrutin load-hashes first") or the record is malformed.
core::Result<LedgerLayout> ReadLedgerLayout(RedisClient& client, std::string_view prefix);

}  // namespace scrutin::redis

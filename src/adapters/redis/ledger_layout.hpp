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
//   field  "#" (1 byte) -> "<ledger id>/<bucket_bits>" (LedgerLayout::Marker): the bucket's
//          marker, present in EVERY bucket
//          0..2^bucket_bits-1, buckets without an eligible digest included. Readers that count or
//          list entries skip it (eligible fields are the 16-byte ones).
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
// Why markers: a bucket that is missing cannot be told from a bucket whose digests are all
// ineligible, so without them a Redis that lost its data (FLUSHALL, a restart without persistence,
// a failover to an empty replica) would answer every vote "not eligible". The claim script reads
// the marker with the digest (one HMGET) and refuses to decide when it is missing or names another
// ledger (core::ErrorCode::kStateLost), until `scrutin ledger rebuild` restored the bucket. The
// marker costs one 1-byte field and a ~19-byte value per bucket: about 22 bytes per ~256 voters
// (32768 buckets, ~0.7 MB, at 8M voters), under 0.1 byte per voter.
//
// The meta key <prefix>ledger (a hash) records
//   bucket_bits  so that every validator agrees with the loader;
//   id           the ledger id: the first 16 hex characters of SHA-256 over the sorted, distinct
//                digests of the eligibility database (LedgerId), the same for the same database
//                however often it is loaded or rebuilt;
//   count        the eligible digests in the ledger.
// The loader writes `id` last, so a ledger whose first load did not finish has none and cannot be
// opened.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
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
// The marker field of every bucket (one byte: never an eligible field, which has 16).
inline constexpr std::string_view kMarkerField = "#";
inline constexpr std::size_t kLedgerIdChars = 16;

struct LedgerLayout {
  std::string prefix{kDefaultPrefix};
  std::uint32_t bucket_bits = 12;
  // The ledger's identity (meta key fields `id` and `count`); empty / 0 until read or loaded.
  std::string id;
  std::uint64_t count = 0;

  std::uint64_t Buckets() const { return std::uint64_t{1} << bucket_bits; }

  std::uint64_t Bucket(const core::Digest& d) const { return d.Prefix64() >> (64 - bucket_bits); }
  std::string BucketKey(std::uint64_t bucket) const;
  std::string BucketKey(const core::Digest& d) const { return BucketKey(Bucket(d)); }
  static std::string Field(const core::Digest& d) {
    return std::string(
        reinterpret_cast<const char*>(d.bytes.data()) + (core::Digest::kSize - kFieldBytes),
        kFieldBytes);
  }
  std::string MetaKey() const { return prefix + "ledger"; }
  // The value of every bucket's marker: "<id>/<bucket_bits>". The bits are part of it so that a
  // validator holding another layout (a rebuild that chose other bits) is refused, never reads
  // buckets that hold other digests.
  std::string Marker() const { return id + "/" + std::to_string(bucket_bits); }
};

// The ledger id of an eligibility database: the first kLedgerIdChars hex characters of SHA-256
// over its digests, 32 raw bytes each, in ascending order, each once.
// REQUIRES: `sorted` is ascending; repeated digests are counted once.
std::string LedgerId(std::span<const core::Digest> sorted);

// The meta key under `prefix` as it is: nullopt when absent; else its bucket_bits and, when
// written, id and count (a ledger whose first load has not finished has no id). Errors as below.
core::Result<std::optional<LedgerLayout>> ReadLedgerMeta(RedisClient& client,
                                                         std::string_view prefix);

// Reads the layout and identity the loader recorded under `prefix`. Errors: nothing was loaded
// there, or its first load did not finish (no `id`): kStateLost, naming `scrutin load-hashes`
// and `scrutin ledger rebuild`; the record is malformed: kCorrupt; Redis unreachable or refusing:
// kUnavailable.
core::Result<LedgerLayout> ReadLedgerLayout(RedisClient& client, std::string_view prefix);

// The health probe of a ledger a validator opened as `layout`: the meta key still names
// layout.id, and the markers of `sample_buckets` buckets spread over the key space (a different
// sample at each call, so that a master of a cluster that lost its data is seen within a few
// calls) are present and equal to it. One pipelined round trip.
// Ok; kStateLost with the reason ("the credential ledger is missing in Redis", "Redis holds a
// different ledger", "bucket ... has lost its marker") and what to run; kUnavailable when Redis
// cannot be reached or answers an error. Thread-compatible (uses the caller's client).
core::Status CheckLedger(RedisClient& client, const LedgerLayout& layout,
                         std::uint32_t sample_buckets = 16);

}  // namespace scrutin::redis

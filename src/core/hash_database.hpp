// The eligibility database: the offline phase's output, the online phase's input.
//
// A directory holding manifest.json and shards. Every digest of the registry appears once; the
// manifest names the scheme (so the online phase hashes the same way), the total count, and each
// shard with its own count and SHA-256 checksum (so a truncated or altered file is refused).
//
//   manifest.json  {"version":1, "scheme":"hmac-sha256", "format":"bin", "count":N,
//                   "shards":[{"file":"hash_database_000.bin", "count":n, "sha256":"<hex>"}, ...]}
//   json shards    hash_database_NNN.json  {"scheme":..., "shard":N, "count":n,
//   "hashes":["<hex>",...]} bin shards     hash_database_NNN.bin   see hash_database.cpp for the
//   layout (header, sorted
//                                          32-byte digests, trailer checksum)
// Digests are sorted ascending across the whole database (shard k holds the k-th slice).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/credential.hpp"
#include "core/digest.hpp"
#include "core/result.hpp"

namespace scrutin::core {

enum class ShardFormat : std::uint8_t { kBin, kJson };
std::string_view ToString(ShardFormat f);  // "bin" / "json"
std::optional<ShardFormat> ParseShardFormat(std::string_view s);

struct ShardInfo {
  std::string file;  // name relative to the database directory
  std::uint64_t count = 0;
  std::string sha256;  // of the whole shard file, lowercase hex
};

struct Manifest {
  int version = 1;
  HashScheme scheme = HashScheme::kHmacSha256;
  ShardFormat format = ShardFormat::kBin;
  std::uint64_t count = 0;
  std::vector<ShardInfo> shards;
};

// Sorts digests ascending, using up to `threads` threads (1 = the calling thread only).
void SortDigests(std::span<Digest> digests, unsigned threads);

// Writes a complete database into `dir` (created if needed; refuses a directory that already holds
// a manifest.json; removes leftover shard files of an earlier failed write). Digests are sorted
// (unless already sorted) and de-duplicated first. Files are written under temporary
// names and renamed into place, manifest last, so a failure never leaves a database that looks
// complete. `progress` (may be empty) is called with the number of digests written so far.
Result<Manifest> WriteHashDatabase(const std::filesystem::path& dir, HashScheme scheme,
                                   ShardFormat format, std::uint64_t shard_size,
                                   std::vector<Digest>& digests,
                                   const std::function<void(std::uint64_t)>& progress = {});

// Reads and validates manifest.json.
Result<Manifest> ReadManifest(const std::filesystem::path& dir);

// Reads every shard of the database, verifying each shard's checksum and count against the
// manifest, and appends the digests to `out` (reserving manifest.count first). Error naming the
// shard and the mismatch otherwise; `out` is then unspecified.
Status ReadHashDatabase(const std::filesystem::path& dir, const Manifest& manifest,
                        std::vector<Digest>& out);

}  // namespace scrutin::core

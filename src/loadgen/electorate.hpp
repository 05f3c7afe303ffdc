// The load run's electorate: the registry rows loadgen votes with, and what happened to each.
// Internal to loadgen (load_run.cpp, vote_workload.cpp, verification.cpp).
//
// Threading: LoadElectorate runs before the run starts. During the run a PoolEntry is written only
// by the engine thread that took its row as a valid vote (see PoolEntry); the rest is read-only
// until the engine has stopped.
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace scrutin::loadgen {

constexpr std::size_t kMaxLaws = 255;

// Per-credential state bits (PoolEntry::flags).
constexpr std::uint8_t kSent = 1;           // its first (valid) vote was sent
constexpr std::uint8_t kGot202 = 2;         // some vote with it got a 202
constexpr std::uint8_t kUnknown = 4;        // some vote with it got no answer at all
constexpr std::uint8_t kAcceptedAt202 = 8;  // the first vote's 202 already said accepted

// One registry row and what happened to it. Written only by the thread that took the row as a
// valid vote (its duplicates come from that thread's own list), read after the run.
struct PoolEntry {
  std::uint32_t nas = 0;
  std::array<char, 6> code{};
  std::uint8_t law = 0;
  std::uint8_t choice = 0;  // core::Choice of the first vote
  std::uint8_t flags = 0;
  std::uint8_t accepted = 0;  // "accepted" statuses seen for it (saturating)
};

struct Electorate {
  std::vector<PoolEntry> pool;  // rows from registry_offset on, in file order
  std::vector<std::string> laws;
  std::vector<std::uint32_t> nas_sorted;  // every NAS of the file, sorted, unique
  std::uint64_t rows = 0;

  bool Registered(std::uint32_t nas) const {
    return std::binary_search(nas_sorted.begin(), nas_sorted.end(), nas);
  }
};

// Reads every row of the registry CSV at `path`; rows from `offset` on become the pool. Fails on
// an unreadable registry, an empty one, or more than kMaxLaws laws.
core::Result<Electorate> LoadElectorate(const std::filesystem::path& path, std::uint64_t offset);

}  // namespace scrutin::loadgen

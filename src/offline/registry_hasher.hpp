// HashRegistry: the engine of `scrutin hashgen`. Reads every row of a voter registry, computes
// its credential digest on a pool of threads (HashPool), and checks that no voter is listed twice
// for a law (SeenVoters). The caller sorts the digests and writes the eligibility database
// (core/hash_database.hpp); apps/hashgen_command.cpp is the wiring (flags, key, progress, output).
//
// Once a bad row has been seen no more digests are computed: nothing will be written, so the rest
// of the registry is only read for further errors.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/credential.hpp"
#include "core/digest.hpp"
#include "core/registry.hpp"
#include "core/result.hpp"

namespace scrutin::offline {

struct HashRegistryCallbacks {
  // Each bad row, numbered from 1 in the order found, with a message naming its line ("line 7:
  // nas: ..." from the reader, or "line 7: nas: already listed for law L2025-001"). Optional.
  std::function<void(std::uint64_t nth_bad, const std::string& message)> on_bad_row;
  // Bytes of the registry read so far, every 65,536 rows and once at the end. Optional.
  std::function<void(std::uint64_t bytes_read)> on_progress;
};

struct HashedRegistry {
  std::vector<core::Digest> digests;  // in registry order; empty as soon as bad > 0
  std::uint64_t rows = 0;             // well-formed rows read
  std::uint64_t bad = 0;              // malformed rows plus repeats
  std::uint64_t repeats = 0;          // rows repeating a (law, NAS) pair listed before
};

// Reads `reader` to its end on the calling thread while `threads` (>= 1) workers hash. Success:
// the digests and counts (the caller refuses the registry when bad > 0). Error: the reader broke
// (an I/O failure) or the registry names more laws than SeenVoters::kMaxLaws. Registry rows are
// wiped from memory once hashed. `hasher` is used from the worker threads (it is immutable).
core::Result<HashedRegistry> HashRegistry(core::RegistryReader& reader,
                                          const core::CredentialHasher& hasher, unsigned threads,
                                          const HashRegistryCallbacks& callbacks = {});

}  // namespace scrutin::offline

// Synthetic voter registries, for demos, tests and benchmarks: a registry CSV in the same format
// as a real one (registry.hpp), generated from a seed.
//
// Every voter has one NAS and one code, used for every law. Voter i's credential is a pure function
// of (seed, i), so a load generator can recompute any voter's credential without reading the CSV:
// the NAS comes from a keyed permutation of the 10^8 eight-digit bodies (so distinct voters have
// distinct NAS) plus its Luhn check digit; the code is 6 characters of [A-Z0-9] from a keyed mix.
// The generator is not a source of secrets: anyone with the seed can recompute every credential.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace scrutin::core {

class SyntheticRegistry {
 public:
  // Voters are numbered 0 .. kMaxVoters-1; there are only so many distinct 9-digit Luhn NAS.
  static constexpr std::uint64_t kMaxVoters = 100'000'000;

  explicit SyntheticRegistry(std::uint64_t seed);

  // Voter `index`'s normalised NAS (9 digits, valid Luhn) and code (6 of [A-Z0-9]).
  // REQUIRES: index < kMaxVoters. Const and thread-safe.
  void Voter(std::uint64_t index, std::string& nas, std::string& code) const;

 private:
  std::uint32_t PermuteNasBody(std::uint32_t x) const;

  std::uint64_t round_keys_[6];
  std::uint64_t code_key_;
};

// Writes a registry CSV (header `nas,code,law_id`, one row per voter per law, voter by voter) for
// voters 0 .. count-1. The file appears under `path` only once complete (temporary file + rename),
// replacing any file there. Error on count 0 or above kMaxVoters, no law, a malformed or repeated
// law id, or an I/O failure. `progress` (may be empty) gets the number of voters written so far.
Status WriteSyntheticRegistry(const std::filesystem::path& path, std::uint64_t count,
                              const std::vector<std::string>& law_ids, std::uint64_t seed,
                              const std::function<void(std::uint64_t)>& progress = {});

}  // namespace scrutin::core

// SeenVoters: the one-voter-once-per-law rule of the offline phase. The registry must list each
// (law, NAS) pair at most once: two codes for one voter and law would be two votes. `scrutin
// hashgen` feeds every row through it and refuses the registry if any pair repeats.
//
// One bitmap of 10^8 bits (12.5 MB) per law, indexed by the NAS's first 8 digits: the ninth is the
// Luhn check digit, fixed by the other eight. Bitmap words are touched at random, so each check
// would wait on a cache miss; instead each row's word is prefetched when the row is added and
// tested kLag rows later, in the order added. So a repeat is reported up to kLag rows after its
// Add(), and the last rows only by Flush(). One thread.
// Private to src/offline: other modules use its public headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "core/registry.hpp"
#include "core/result.hpp"

namespace scrutin::offline {

class SeenVoters {
 public:
  static constexpr std::size_t kMaxLaws = 64;
  // Called for each row whose NAS was already listed for its law, with the row's line number.
  using RepeatFn = std::function<void(std::uint64_t line, const std::string& law_id)>;

  explicit SeenVoters(RepeatFn on_repeat) : on_repeat_(std::move(on_repeat)) {}

  // Adds a row (reported to on_repeat, now or later, if its NAS is already listed for its law).
  // Error, with nothing added, when the row names a law beyond the first kMaxLaws.
  // REQUIRES: a normalised row (9-digit NAS).
  core::Status Add(const core::RegistryRow& row, std::uint64_t line);

  // Checks the rows still pending. Call once after the last Add().
  void Flush();

 private:
  static constexpr std::size_t kLag = 32;
  struct Law {
    std::string id;
    std::vector<std::uint64_t> bits;
  };
  struct Pending {
    std::uint64_t* word;
    std::uint64_t mask;
    std::uint64_t line;
    const std::string* law_id;
  };

  void Check(const Pending& p);
  Law* Find(const std::string& id);

  RepeatFn on_repeat_;
  std::deque<Law> laws_;  // stable addresses
  Law* last_ = nullptr;
  Pending ring_[kLag];
  std::uint64_t added_ = 0;
};

}  // namespace scrutin::offline

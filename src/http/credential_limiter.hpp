// CredentialLimiter: the online-guessing defence (API contract, 429 scope "credential"). Someone
// who knows a voter's NAS can try codes for it; this bounds how many tries one NAS gets on one law
// per window on this instance, whoever sends them and from however many addresses.
//
// What it bounds: a code is 6 characters of [A-Z0-9], 36^6 ≈ 2.18e9 codes. With A attempts per
// window W, one instance lets a guesser try A * (24 h / W) codes a day: with the defaults (60 per
// 10 minutes) 8,640, a chance of 8,640 / 2.18e9 ≈ 4e-6 of finding one known voter's code in a
// day. Behind a load balancer each of N instances keeps its own count, so the bound is N times
// that (still ~4e-5 for N = 10); a balancer that hashes on the NAS is not needed for that bound.
//
// Privacy: the table holds a 40-bit tag of HMAC-SHA256(random per-process key, NAS "|" law), a
// count and a window number — never the NAS, never written anywhere, gone with the process.
//
// Memory is fixed: 8-byte entries, kWays per bucket (one cache line). A new tag takes an entry of
// its bucket whose window is over, else the one with the fewest attempts: a guesser's entry (many
// attempts) is the last to go, and honest voters (one or two attempts) recycle each other's
// entries. Windows are fixed (not sliding): at a boundary a guesser gets at most 2A in a row.
//
// Thread-safety: Attempt may be called from any thread (striped locks).
// Private to src/http: other modules use its public headers.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/mutex.hpp"

namespace scrutin::http {

struct CredentialLimits {
  std::uint32_t attempts = 60;  // per NAS per law per window; 0 disables the limit
  std::chrono::seconds window{600};
  std::size_t memory_bytes = 16 << 20;  // 2M entries
};

class CredentialLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kWays = 8;

  explicit CredentialLimiter(CredentialLimits limits);
  ~CredentialLimiter();
  CredentialLimiter(const CredentialLimiter&) = delete;
  CredentialLimiter& operator=(const CredentialLimiter&) = delete;

  struct Decision {
    bool allowed = true;
    std::chrono::seconds retry_after{0};  // when refused: until the window ends (at least 1 s)
  };

  // Counts one attempt for (nas, law_id) and says whether it is within the allowance. `nas` is
  // the normalised NAS (9 digits). A refused attempt is not counted.
  Decision Attempt(std::string_view nas, std::string_view law_id,
                   Clock::time_point now = Clock::now());

  bool enabled() const { return limits_.attempts > 0; }
  std::size_t capacity() const { return buckets_ * kWays; }

 private:
  std::uint64_t Tag(std::string_view nas, std::string_view law_id) const;

  static constexpr std::size_t kLocks = 256;
  const CredentialLimits limits_;
  std::size_t buckets_ = 1;
  std::array<unsigned char, 32> key_{};
  Clock::time_point epoch_;
  // Bucket b's entries are guarded by locks_[b % kLocks], chosen at run time (beyond clang's
  // analysis): every access is within a MutexLock on it.
  std::unique_ptr<std::uint64_t[]> entries_;
  std::unique_ptr<core::Mutex[]> locks_;
};

}  // namespace scrutin::http

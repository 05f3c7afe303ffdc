#include "http/credential_limiter.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace scrutin::http {

namespace {

// Entry layout: tag (40 bits) | count (16 bits) | window (8 bits, the window number mod 256).
// An all-zero entry is free (a tag of 0 is remapped to 1).
constexpr int kTagShift = 24;
constexpr std::uint64_t kTagMask = (std::uint64_t{1} << 40) - 1;

std::uint64_t TagOf(std::uint64_t e) { return e >> kTagShift; }
std::uint32_t CountOf(std::uint64_t e) { return static_cast<std::uint32_t>((e >> 8) & 0xffff); }
std::uint8_t WindowOf(std::uint64_t e) { return static_cast<std::uint8_t>(e & 0xff); }
std::uint64_t Pack(std::uint64_t tag, std::uint32_t count, std::uint8_t window) {
  return (tag << kTagShift) | (std::uint64_t{std::min<std::uint32_t>(count, 0xffff)} << 8) |
         window;
}

}  // namespace

CredentialLimiter::CredentialLimiter(CredentialLimits limits)
    : limits_(limits), epoch_(Clock::now()) {
  if (limits_.window.count() <= 0) throw std::invalid_argument("credential window must be > 0");
  buckets_ = std::max<std::size_t>(1, limits_.memory_bytes / (sizeof(std::uint64_t) * kWays));
  entries_ = std::make_unique<std::uint64_t[]>(buckets_ * kWays);
  locks_ = std::make_unique<core::Mutex[]>(kLocks);
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    throw std::runtime_error("no randomness for the credential limiter's key");
  }
}

CredentialLimiter::~CredentialLimiter() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::uint64_t CredentialLimiter::Tag(std::string_view nas, std::string_view law_id) const {
  // NAS (9 digits) "|" law id (10 characters); longer input is refused upstream, but stay safe.
  char message[64];
  std::size_t n = 0;
  auto append = [&](std::string_view s) {
    std::size_t take = std::min(s.size(), sizeof message - n);
    std::memcpy(message + n, s.data(), take);
    n += take;
  };
  append(nas);
  append("|");
  append(law_id);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message), n, mac, &mac_len);
  OPENSSL_cleanse(message, sizeof message);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | mac[i];
  OPENSSL_cleanse(mac, sizeof mac);
  return v;
}

CredentialLimiter::Decision CredentialLimiter::Attempt(std::string_view nas,
                                                       std::string_view law_id,
                                                       Clock::time_point now) {
  if (!enabled()) return {};
  const std::uint64_t h = Tag(nas, law_id);
  std::uint64_t tag = (h >> 24) & kTagMask;
  if (tag == 0) tag = 1;
  const std::size_t bucket = static_cast<std::size_t>(h % buckets_);
  const auto since = now - epoch_;
  const auto window_number = since / limits_.window;
  const std::uint8_t window = static_cast<std::uint8_t>(window_number & 0xff);

  core::MutexLock lock(locks_[bucket % kLocks]);
  std::uint64_t* ways = &entries_[bucket * kWays];
  std::uint64_t* victim = nullptr;
  for (std::size_t i = 0; i < kWays; ++i) {
    std::uint64_t& e = ways[i];
    if (e != 0 && TagOf(e) == tag) {
      std::uint32_t count = WindowOf(e) == window ? CountOf(e) : 0;
      if (count >= limits_.attempts) {
        auto window_end = limits_.window * (window_number + 1);
        auto left = std::chrono::ceil<std::chrono::seconds>(window_end - since);
        return {false, std::max(left, std::chrono::seconds(1))};
      }
      e = Pack(tag, count + 1, window);
      return {};
    }
    // Preference for the new tag's slot: free, then expired, then the fewest attempts.
    auto score = [&](std::uint64_t x) -> std::uint32_t {
      if (x == 0) return 0;
      if (WindowOf(x) != window) return 1;
      return 2 + CountOf(x);
    };
    if (victim == nullptr || score(e) < score(*victim)) victim = &e;
  }
  *victim = Pack(tag, 1, window);
  return {};
}

}  // namespace scrutin::http

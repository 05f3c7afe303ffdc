#include "core/synthetic_registry.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "core/normalise.hpp"

namespace scrutin::core {
namespace {

constexpr std::uint32_t kNasBodies = 100'000'000;  // 8-digit bodies before the check digit
constexpr int kHalfBits = 14;                      // Feistel over 28 bits >= 10^8
constexpr std::uint32_t kHalfMask = (1u << kHalfBits) - 1;

// SplitMix64's finaliser: a fast, well-mixing 64-bit bijection.
std::uint64_t Mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

char LuhnCheckDigit(const char* body, std::size_t n) {
  unsigned sum = 0;
  // With the check digit appended, the body's last digit is the first one doubled.
  bool twice = true;
  for (std::size_t i = n; i-- > 0;) {
    unsigned d = static_cast<unsigned>(body[i] - '0');
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

}  // namespace

SyntheticRegistry::SyntheticRegistry(std::uint64_t seed) {
  std::uint64_t state = seed;
  auto next = [&] { return Mix(state += 0x9e3779b97f4a7c15ULL); };
  for (auto& k : round_keys_) k = next();
  code_key_ = next();
}

std::uint32_t SyntheticRegistry::PermuteNasBody(std::uint32_t x) const {
  // A balanced Feistel network is a permutation of [0, 2^28); walking the cycle until the value
  // falls below 10^8 restricts it to a permutation of [0, 10^8).
  do {
    std::uint32_t left = x >> kHalfBits, right = x & kHalfMask;
    for (std::uint64_t key : round_keys_) {
      std::uint32_t f = static_cast<std::uint32_t>(Mix(key ^ right)) & kHalfMask;
      std::uint32_t next_right = left ^ f;
      left = right;
      right = next_right;
    }
    x = (left << kHalfBits) | right;
  } while (x >= kNasBodies);
  return x;
}

void SyntheticRegistry::Voter(std::uint64_t index, std::string& nas, std::string& code) const {
  std::uint32_t body = PermuteNasBody(static_cast<std::uint32_t>(index));
  nas.resize(9);
  for (int i = 7; i >= 0; --i) {
    nas[static_cast<std::size_t>(i)] = static_cast<char>('0' + body % 10);
    body /= 10;
  }
  nas[8] = LuhnCheckDigit(nas.data(), 8);
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::uint64_t v = Mix(code_key_ ^ Mix(index));
  code.resize(6);
  for (auto& c : code) {  // 36^6 is far below 2^64: the modulo bias is negligible
    c = kAlphabet[v % 36];
    v /= 36;
  }
}

Status WriteSyntheticRegistry(const std::filesystem::path& path, std::uint64_t count,
                              const std::vector<std::string>& law_ids, std::uint64_t seed,
                              const std::function<void(std::uint64_t)>& progress) {
  if (count == 0 || count > SyntheticRegistry::kMaxVoters) {
    return Fail("the voter count must be between 1 and " +
                std::to_string(SyntheticRegistry::kMaxVoters));
  }
  if (law_ids.empty()) return Fail(std::string("at least one law id is needed"));
  std::set<std::string> seen;
  for (const auto& id : law_ids) {
    if (!IsWellFormedLawId(id)) {
      return Fail("law id '" + id + "' is malformed (expected e.g. L2025-001)");
    }
    if (!seen.insert(id).second) return Fail("law id '" + id + "' is given twice");
  }

  const std::string final_path = path.string();
  const std::string tmp = final_path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail("cannot create '" + tmp + "': " + std::strerror(errno));
  std::string buf;
  constexpr std::size_t kFlushAt = 1 << 20;
  buf.reserve(kFlushAt + 4096);
  auto flush = [&]() -> bool {
    std::size_t off = 0;
    while (off < buf.size()) {
      ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      off += static_cast<std::size_t>(n);
    }
    buf.clear();
    return true;
  };
  auto fail = [&](const std::string& what) -> Status {
    std::string err = what + " '" + tmp + "': " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(err);
  };

  SyntheticRegistry registry(seed);
  std::string nas, code;
  buf += "nas,code,law_id\n";
  for (std::uint64_t i = 0; i < count; ++i) {
    registry.Voter(i, nas, code);
    for (const auto& law : law_ids) {
      buf.append(nas).append(1, ',').append(code).append(1, ',').append(law).append(1, '\n');
    }
    if (buf.size() >= kFlushAt) {
      if (!flush()) return fail("cannot write");
      if (progress) progress(i + 1);
    }
  }
  if (!flush()) return fail("cannot write");
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    std::string err = "cannot close '" + tmp + "': " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return Fail(err);
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    std::string err =
        "cannot rename '" + tmp + "' to '" + final_path + "': " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return Fail(err);
  }
  if (progress) progress(count);
  return {};
}

}  // namespace scrutin::core

#include "core/normalise.hpp"

#include <openssl/crypto.h>

namespace scrutin::core {
namespace {

constexpr std::size_t kNasDigits = 9;
constexpr std::size_t kCodeLength = 6;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }

}  // namespace

bool LuhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  unsigned sum = 0;
  bool twice = false;  // every second digit from the right is doubled
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!IsDigit(*it)) return false;
    unsigned d = static_cast<unsigned>(*it - '0');
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

std::optional<std::string_view> NormaliseNas(std::string_view in, std::string& out) {
  out.clear();
  for (char c : in) {
    if (c == ' ' || c == '-') continue;
    // Stop copying as soon as the input cannot be a NAS: a hostile value never grows `out`.
    if (!IsDigit(c) || out.size() == kNasDigits) {
      Wipe(out);
      return kErrFormat;
    }
    out.push_back(c);
  }
  if (out.size() != kNasDigits) {
    Wipe(out);
    return kErrFormat;
  }
  if (!LuhnValid(out)) {
    Wipe(out);
    return kErrChecksum;
  }
  return std::nullopt;
}

std::optional<std::string_view> NormaliseCode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() != kCodeLength) return kErrFormat;
  for (char c : in) {
    if (IsLower(c)) {
      out.push_back(static_cast<char>(c - 'a' + 'A'));
    } else if (IsUpper(c) || IsDigit(c)) {
      out.push_back(c);
    } else {
      Wipe(out);
      return kErrFormat;
    }
  }
  return std::nullopt;
}

bool IsWellFormedLawId(std::string_view id) {
  if (id.size() != 9 || !IsUpper(id[0]) || id[5] != '-') return false;
  for (std::size_t i : {1, 2, 3, 4, 6, 7, 8}) {
    if (!IsDigit(id[i])) return false;
  }
  return true;
}

void Wipe(std::string& s) {
  // Cover the whole buffer, not just the live characters: a shorter value may have replaced a
  // longer one, and a moved-from short string keeps its old bytes in the inline buffer.
  s.resize(s.capacity());
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace scrutin::core

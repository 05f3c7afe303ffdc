#include "loadgen/mix.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace scrutin::loadgen {
namespace {

constexpr std::array<std::string_view, kRequestKinds> kNames = {"valid", "duplicate", "invalid",
                                                                "malformed"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view ToString(RequestKind k) { return kNames[static_cast<std::size_t>(k)]; }

Mix::Mix() { shares_[static_cast<std::size_t>(RequestKind::kValid)] = 1.0; }

core::Result<Mix> Mix::Parse(std::string_view text) {
  Mix mix;
  mix.shares_.fill(0.0);
  std::array<bool, kRequestKinds> seen{};
  if (Trim(text).empty()) return core::Fail(std::string("--mix: empty"));
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = Trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return core::Fail(fmt::format("--mix: '{}' is not kind=share", item));
    }
    const std::string_view name = Trim(item.substr(0, eq));
    const std::string_view value = Trim(item.substr(eq + 1));
    std::size_t k = 0;
    while (k < kRequestKinds && kNames[k] != name) ++k;
    if (k == kRequestKinds) {
      return core::Fail(fmt::format(
          "--mix: unknown kind '{}' (expected valid, duplicate, invalid, malformed)", name));
    }
    if (seen[k]) return core::Fail(fmt::format("--mix: '{}' given twice", name));
    seen[k] = true;
    double share = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), share);
    if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(share) ||
        share < 0 || share > 1) {
      return core::Fail(
          fmt::format("--mix: share of '{}' must be a number in [0, 1], got '{}'", name, value));
    }
    mix.shares_[k] = share;
  }
  double sum = 0;
  for (double s : mix.shares_) sum += s;
  if (std::fabs(sum - 1.0) > 0.001) {
    return core::Fail(fmt::format("--mix: shares add up to {}, not 1", sum));
  }
  // A duplicate repeats a credential a valid vote of the same run used first.
  if (mix.share(RequestKind::kDuplicate) > 0 && mix.share(RequestKind::kValid) <= 0) {
    return core::Fail(std::string("--mix: duplicate needs a valid share above 0"));
  }
  return mix;
}

RequestKind Mix::Pick(double u) const {
  double upper = 0;
  std::size_t last = 0;
  for (std::size_t k = 0; k < kRequestKinds; ++k) {
    if (shares_[k] <= 0) continue;
    last = k;
    upper += shares_[k];
    if (u < upper) return static_cast<RequestKind>(k);
  }
  // Rounding left a sliver at the top of [0, 1): it belongs to the last kind in use.
  return static_cast<RequestKind>(last);
}

std::string Mix::ToString() const {
  std::string out;
  for (std::size_t k = 0; k < kRequestKinds; ++k) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}={:g}", kNames[k], shares_[k]);
  }
  return out;
}

}  // namespace scrutin::loadgen

#include "adapters/redis/ledger_layout.hpp"

#include <charconv>

namespace scrutin::redis {

std::string LedgerLayout::BucketKey(std::uint64_t bucket) const {
  static constexpr char kHex[] = "0123456789abcdef";
  const int digits = static_cast<int>((bucket_bits + 3) / 4);
  std::string key;
  key.reserve(prefix.size() + 4 + digits);
  key += prefix;
  key += "{e:";
  for (int i = digits - 1; i >= 0; --i) key += kHex[(bucket >> (4 * i)) & 0xF];
  key += '}';
  return key;
}

core::Result<LedgerLayout> ReadLedgerLayout(RedisClient& client, std::string_view prefix) {
  LedgerLayout layout;
  layout.prefix = std::string(prefix);
  auto reply = client.Execute(Command::Keyed(1, {"HGET", layout.MetaKey(), "bucket_bits"}));
  if (!reply.ok()) return core::Fail(reply.error());
  if (reply->is_error())
    return core::Fail("redis: reading " + layout.MetaKey() + ": " + reply->str);
  if (reply->is_nil()) {
    return core::Fail("no eligibility database is loaded in Redis under prefix '" + layout.prefix +
                      "' (run `scrutin load-hashes` first)");
  }
  unsigned bits = 0;
  const auto& s = reply->str;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), bits);
  if (ec != std::errc() || ptr != s.data() + s.size() || bits < 1 || bits > 24) {
    return core::Fail("redis: " + layout.MetaKey() + " has an invalid bucket_bits '" + s + "'");
  }
  layout.bucket_bits = bits;
  return layout;
}

}  // namespace scrutin::redis

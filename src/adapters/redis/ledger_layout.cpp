#include "adapters/redis/ledger_layout.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <random>
#include <vector>

namespace scrutin::redis {
namespace {

using core::ErrorCode;
using core::Fail;

std::optional<std::uint64_t> ParseUnsigned(std::string_view s) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

constexpr std::string_view kRebuildHint =
    "run `scrutin ledger rebuild` (it restores the ledger from the eligibility database and "
    "PostgreSQL; the validators resume by themselves)";

}  // namespace

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

std::string LedgerId(std::span<const core::Digest> sorted) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && sorted[i] == sorted[i - 1]) continue;
    EVP_DigestUpdate(ctx, sorted[i].bytes.data(), sorted[i].bytes.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return core::HexEncode(md, len).substr(0, kLedgerIdChars);
}

core::Result<std::optional<LedgerLayout>> ReadLedgerMeta(RedisClient& client,
                                                         std::string_view prefix) {
  LedgerLayout layout;
  layout.prefix = std::string(prefix);
  auto reply =
      client.Execute(Command::Keyed(1, {"HMGET", layout.MetaKey(), "bucket_bits", "id", "count"}));
  if (!reply.ok()) return Fail(ErrorCode::kUnavailable, reply.error());
  if (reply->is_error()) {
    return Fail(ErrorCode::kUnavailable, "redis: reading " + layout.MetaKey() + ": " + reply->str);
  }
  if (reply->type != Reply::Type::kArray || reply->elements.size() != 3) {
    return Fail(ErrorCode::kCorrupt, "redis: unexpected reply reading " + layout.MetaKey());
  }
  const auto& bits_reply = reply->elements[0];
  const auto& id_reply = reply->elements[1];
  const auto& count_reply = reply->elements[2];
  if (bits_reply.is_nil()) {
    if (!id_reply.is_nil() || !count_reply.is_nil()) {
      return Fail(ErrorCode::kCorrupt, "redis: " + layout.MetaKey() + " has no bucket_bits");
    }
    return std::optional<LedgerLayout>();
  }
  auto bits = ParseUnsigned(bits_reply.str);
  if (!bits || *bits < 1 || *bits > 24) {
    return Fail(ErrorCode::kCorrupt, "redis: " + layout.MetaKey() +
                                         " has an invalid bucket_bits '" + bits_reply.str + "'");
  }
  layout.bucket_bits = static_cast<std::uint32_t>(*bits);
  if (!id_reply.is_nil()) {
    if (id_reply.str.size() != kLedgerIdChars) {
      return Fail(ErrorCode::kCorrupt, "redis: " + layout.MetaKey() + " has an invalid id");
    }
    layout.id = id_reply.str;
  }
  if (!count_reply.is_nil()) {
    auto count = ParseUnsigned(count_reply.str);
    if (!count) {
      return Fail(ErrorCode::kCorrupt, "redis: " + layout.MetaKey() + " has an invalid count");
    }
    layout.count = *count;
  }
  return std::optional<LedgerLayout>(std::move(layout));
}

core::Result<LedgerLayout> ReadLedgerLayout(RedisClient& client, std::string_view prefix) {
  auto meta = ReadLedgerMeta(client, prefix);
  if (!meta.ok()) return Fail(meta.code(), meta.error());
  if (!meta->has_value() || (*meta)->id.empty()) {
    const bool started = meta->has_value();
    return Fail(ErrorCode::kStateLost,
                std::string(started ? "the eligibility database's load into Redis under prefix '"
                                    : "no eligibility database is loaded in Redis under prefix '") +
                    std::string(prefix) + (started ? "' did not finish" : "'") +
                    " (before the election: run `scrutin load-hashes`; if Redis lost a ledger it "
                    "held: run `scrutin ledger rebuild`)");
  }
  return std::move(**meta);
}

core::Status CheckLedger(RedisClient& client, const LedgerLayout& layout,
                         std::uint32_t sample_buckets) {
  // A different sample at each call, from a fast per-thread generator (not security-relevant).
  static thread_local std::minstd_rand rng(std::random_device{}());
  std::vector<Command> commands;
  commands.push_back(Command::Keyed(1, {"HGET", layout.MetaKey(), "id"}));
  const std::uint64_t buckets = layout.Buckets();
  const std::uint64_t n = std::min<std::uint64_t>(sample_buckets, buckets);
  const std::uint64_t offset = rng() % buckets;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t bucket = (offset + i * (buckets / std::max<std::uint64_t>(n, 1))) % buckets;
    commands.push_back(Command::Keyed(1, {"HGET", layout.BucketKey(bucket), kMarkerField}));
  }
  std::vector<Reply> replies(commands.size());
  if (auto st = client.Execute(commands, replies); !st.ok()) {
    return Fail(ErrorCode::kUnavailable, st.error());
  }
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error()) {
      return Fail(ErrorCode::kUnavailable,
                  "redis: reading " + commands[i].args[1] + ": " + replies[i].str);
    }
  }
  if (replies[0].is_nil()) {
    return Fail(ErrorCode::kStateLost, "the credential ledger is missing in Redis (no " +
                                           layout.MetaKey() +
                                           ": Redis lost its data?): " + std::string(kRebuildHint));
  }
  if (replies[0].str != layout.id) {  // (the bits are checked through the markers below)
    return Fail(ErrorCode::kStateLost,
                "Redis holds a different ledger under " + layout.MetaKey() + " (id " +
                    replies[0].str + ", opened as " + layout.id +
                    "): another eligibility database was loaded; restart the validators on it, or "
                    "load the election's database again");
  }
  for (std::size_t i = 1; i < replies.size(); ++i) {
    if (replies[i].is_nil() || replies[i].str != layout.Marker()) {
      return Fail(ErrorCode::kStateLost,
                  "the credential ledger in Redis is incomplete (bucket " + commands[i].args[1] +
                      (replies[i].is_nil() ? " has no marker" : " has another ledger's marker") +
                      ": Redis lost its data?): " + std::string(kRebuildHint));
    }
  }
  return {};
}

}  // namespace scrutin::redis

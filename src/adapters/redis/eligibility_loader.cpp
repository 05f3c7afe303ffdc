#include "adapters/redis/eligibility_loader.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "adapters/redis/lua_script.hpp"

namespace scrutin::redis {
namespace {

using core::Fail;

// KEYS[1] bucket, ARGV[1] marker (LedgerLayout::Marker), ARGV[2] '1' when a missing marker may be
// created (the prefix holds no finished ledger), ARGV[3..] fields: inserts the absent fields with
// an empty value (eligible, unclaimed), never touching a present one (it may hold a claim), and
// sets the marker. Returns {added, entries in the bucket (the marker not counted), 1 when the
// marker was missing in an existing ledger (left missing: the bucket lost its claims), else 0}.
constexpr std::string_view kLoadScript = R"lua(
local added = 0
for i = 3, #ARGV do
  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], '')
end
local marker = redis.call('HGET', KEYS[1], '#')
local lost = 0
if marker or ARGV[2] == '1' then
  if marker ~= ARGV[1] then redis.call('HSET', KEYS[1], '#', ARGV[1]) end
else
  lost = 1
end
local n = redis.call('HLEN', KEYS[1])
if lost == 0 then n = n - 1 end
return {added, n, lost}
)lua";

std::optional<std::uint64_t> ParseUnsigned(std::string_view s) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Current hash-max-listpack-entries of the first master; 128 (Redis's default) when unreadable.
std::uint32_t CurrentListpackEntries(RedisClient& client) {
  auto masters = client.Masters();
  if (masters.empty()) return 128;
  auto reply = client.ExecuteOn(masters.front(),
                                Command::Keyless({"CONFIG", "GET", "hash-max-listpack-entries"}));
  if (!reply.ok() || reply->type != Reply::Type::kArray || reply->elements.size() != 2) return 128;
  auto v = ParseUnsigned(reply->elements[1].str);
  return v ? static_cast<std::uint32_t>(*v) : 128;
}

}  // namespace

core::Status ConfigureListpack(RedisClient& client) {
  for (const auto& node : client.Masters()) {
    auto reply = client.ExecuteOn(
        node, Command::Keyless({"CONFIG", "SET", "hash-max-listpack-entries",
                                std::to_string(kListpackEntries), "hash-max-listpack-value",
                                std::to_string(kListpackValue)}));
    if (!reply.ok()) return Fail(reply.error());
    if (reply->is_error()) {
      return Fail("redis " + node.ToString() +
                  ": CONFIG SET hash-max-listpack-entries refused: " + reply->str);
    }
  }
  return {};
}

core::Result<std::uint64_t> UsedMemory(RedisClient& client) {
  std::uint64_t total = 0;
  for (const auto& node : client.Masters()) {
    auto reply = client.ExecuteOn(node, Command::Keyless({"INFO", "memory"}));
    if (!reply.ok()) return Fail(reply.error());
    if (reply->is_error()) return Fail("redis " + node.ToString() + ": INFO memory: " + reply->str);
    static constexpr std::string_view kKey = "used_memory:";
    auto pos = reply->str.find(kKey);
    if (pos == std::string::npos)
      return Fail("redis " + node.ToString() + ": no used_memory in INFO");
    pos += kKey.size();
    auto end = reply->str.find_first_of("\r\n", pos);
    auto v = ParseUnsigned(std::string_view(reply->str).substr(pos, end - pos));
    if (!v) return Fail("redis " + node.ToString() + ": unparsable used_memory");
    total += *v;
  }
  return total;
}

std::uint32_t ChooseBucketBits(std::span<const core::Digest> digests, std::uint32_t max_entries) {
  std::uint32_t bits = 8;
  while (bits < 24 && (digests.size() >> bits) > 256) ++bits;
  for (; bits < 24; ++bits) {
    std::vector<std::uint32_t> counts(std::size_t{1} << bits, 0);
    std::uint32_t largest = 0;
    for (const auto& d : digests)
      largest = std::max(largest, ++counts[d.Prefix64() >> (64 - bits)]);
    if (largest <= max_entries) break;
  }
  return bits;
}

core::Result<PreparedLedger> PrepareLedger(RedisClient& client,
                                           std::span<const core::Digest> sorted,
                                           std::string_view prefix, std::uint32_t bucket_bits,
                                           bool configure_listpack) {
  PreparedLedger out;
  if (configure_listpack) out.listpack_configured = ConfigureListpack(client).ok();
  const std::uint32_t limit =
      out.listpack_configured ? kListpackEntries : CurrentListpackEntries(client);

  auto meta = ReadLedgerMeta(client, prefix);
  if (!meta.ok()) return Fail(meta.code(), meta.error());
  if (!meta->has_value()) {
    std::uint32_t bits = bucket_bits != 0
                             ? bucket_bits
                             : ChooseBucketBits(sorted, std::max<std::uint32_t>(limit * 7 / 8, 16));
    if (bits < 1 || bits > 24)
      return Fail(core::ErrorCode::kRefused, "bucket_bits must be within 1..24");
    LedgerLayout layout;
    layout.prefix = std::string(prefix);
    auto set = client.Execute(
        Command::Keyed(1, {"HSETNX", layout.MetaKey(), "bucket_bits", std::to_string(bits)}));
    if (!set.ok()) return Fail(core::ErrorCode::kUnavailable, set.error());
    if (set->is_error()) {
      return Fail(core::ErrorCode::kUnavailable,
                  "redis: writing " + layout.MetaKey() + ": " + set->str);
    }
    meta = ReadLedgerMeta(client, prefix);
    if (!meta.ok()) return Fail(meta.code(), meta.error());
    if (!meta->has_value()) {
      return Fail(core::ErrorCode::kUnavailable,
                  "redis: " + layout.MetaKey() + " vanished while loading");
    }
  }
  out.layout = std::move(**meta);
  out.recorded_id = out.layout.id;
  out.layout.id = LedgerId(sorted);
  return out;
}

core::Result<LoadReport> LoadEligibility(RedisClient& client, std::span<const core::Digest> digests,
                                         const LoadOptions& options) {
  LoadReport report;

  // Buckets are ranges of sorted digests; hash databases are sorted already.
  std::vector<core::Digest> sorted_copy;
  if (!std::is_sorted(digests.begin(), digests.end())) {
    sorted_copy.assign(digests.begin(), digests.end());
    std::sort(sorted_copy.begin(), sorted_copy.end());
    digests = sorted_copy;
  }

  auto prepared = PrepareLedger(client, digests, options.prefix, options.bucket_bits,
                                options.configure_listpack);
  if (!prepared.ok()) return Fail(prepared.code(), prepared.error());
  const LedgerLayout& layout = prepared->layout;
  report.listpack_configured = prepared->listpack_configured;
  report.bucket_bits = layout.bucket_bits;
  report.id = layout.id;
  report.new_ledger = prepared->recorded_id.empty();
  const std::string create_markers = report.new_ledger ? "1" : "0";

  static const LuaScript load_script(kLoadScript);
  if (auto st = load_script.Load(client); !st.ok()) return Fail(st.error());

  const std::size_t per_trip = std::max<std::size_t>(1, options.buckets_per_round_trip);
  std::vector<Command> commands;
  std::vector<std::uint64_t> sizes;  // distinct digests per command, for progress
  std::vector<Reply> replies;
  std::uint64_t done = 0;
  // Every bucket, those without an eligible digest included: each gets its marker.
  std::size_t i = 0;
  std::uint64_t bucket = 0;
  while (bucket < layout.Buckets()) {
    commands.clear();
    sizes.clear();
    for (; bucket < layout.Buckets() && commands.size() < per_trip; ++bucket) {
      Command c = load_script.Call(layout.BucketKey(bucket));
      c.args.push_back(layout.Marker());
      c.args.push_back(create_markers);
      std::uint64_t n = 0;
      for (; i < digests.size() && layout.Bucket(digests[i]) == bucket; ++i) {
        if (n > 0 && digests[i] == digests[i - 1]) continue;
        c.args.push_back(LedgerLayout::Field(digests[i]));
        ++n;
      }
      commands.push_back(std::move(c));
      sizes.push_back(n);
    }
    replies.assign(commands.size(), Reply{});
    if (auto st = load_script.Execute(client, commands, replies); !st.ok()) {
      return Fail(st.error());
    }
    for (std::size_t k = 0; k < replies.size(); ++k) {
      const Reply* r = &replies[k];
      if (r->is_error()) return Fail("redis: loading " + commands[k].args[3] + ": " + r->str);
      if (r->type != Reply::Type::kArray || r->elements.size() != 3) {
        return Fail("redis: unexpected reply while loading " + commands[k].args[3]);
      }
      report.added += static_cast<std::uint64_t>(r->elements[0].integer);
      report.largest_bucket =
          std::max(report.largest_bucket, static_cast<std::uint32_t>(r->elements[1].integer));
      report.buckets_lost += static_cast<std::uint64_t>(r->elements[2].integer);
      report.digests += sizes[k];
      done += sizes[k];
    }
    if (options.progress) options.progress(done, digests.size());
  }

  // The identity last: a ledger is complete (and may be opened) once it has an id.
  auto total = client.Execute(
      Command::Keyed(1, {"HINCRBY", layout.MetaKey(), "count", std::to_string(report.added)}));
  if (!total.ok()) return Fail(total.error());
  if (total->is_error()) return Fail("redis: updating " + layout.MetaKey() + ": " + total->str);
  report.ledger_total = static_cast<std::uint64_t>(total->integer);
  auto id = client.Execute(Command::Keyed(1, {"HSET", layout.MetaKey(), "id", layout.id}));
  if (!id.ok()) return Fail(id.error());
  if (id->is_error()) return Fail("redis: updating " + layout.MetaKey() + ": " + id->str);

  auto memory = UsedMemory(client);
  if (!memory.ok()) return Fail(memory.error());
  report.used_memory = *memory;
  return report;
}

}  // namespace scrutin::redis

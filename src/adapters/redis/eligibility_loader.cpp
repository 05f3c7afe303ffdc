#include "adapters/redis/eligibility_loader.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "adapters/redis/script_sha.hpp"

namespace scrutin::redis {
namespace {

using core::Fail;

// KEYS[1] bucket, ARGV fields: inserts the absent ones with an empty value (eligible, unclaimed),
// never touching a present one (it may hold a claim). Returns {added, entries in the bucket}.
constexpr std::string_view kLoadScript = R"lua(
local added = 0
for i = 1, #ARGV do
  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], '')
end
return {added, redis.call('HLEN', KEYS[1])}
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

  std::uint32_t limit = 0;
  if (options.configure_listpack) {
    report.listpack_configured = ConfigureListpack(client).ok();
  }
  limit = report.listpack_configured ? kListpackEntries : CurrentListpackEntries(client);

  // The bucket size: the recorded one when this prefix was loaded before, else chosen now and
  // recorded with HSETNX so that two concurrent loaders agree.
  LedgerLayout layout;
  layout.prefix = options.prefix;
  auto existing = ReadLedgerLayout(client, options.prefix);
  if (existing.ok()) {
    layout = *existing;
  } else {
    std::uint32_t bits =
        options.bucket_bits != 0
            ? options.bucket_bits
            : ChooseBucketBits(digests, std::max<std::uint32_t>(limit * 7 / 8, 16));
    if (bits < 1 || bits > 24) return Fail("bucket_bits must be within 1..24");
    auto set = client.Execute(
        Command::Keyed(1, {"HSETNX", layout.MetaKey(), "bucket_bits", std::to_string(bits)}));
    if (!set.ok()) return Fail(set.error());
    if (set->is_error()) return Fail("redis: writing " + layout.MetaKey() + ": " + set->str);
    auto again = ReadLedgerLayout(client, options.prefix);
    if (!again.ok()) return Fail(again.error());
    layout = *again;
  }
  report.bucket_bits = layout.bucket_bits;

  const std::string sha = ScriptSha(kLoadScript);
  for (const auto& node : client.Masters()) {
    auto r = client.ExecuteOn(node, Command::Keyless({"SCRIPT", "LOAD", kLoadScript}));
    if (!r.ok()) return Fail(r.error());
    if (r->is_error()) return Fail("redis " + node.ToString() + ": SCRIPT LOAD: " + r->str);
  }

  const std::size_t per_trip = std::max<std::size_t>(1, options.buckets_per_round_trip);
  std::vector<Command> commands;
  std::vector<std::uint64_t> sizes;  // distinct digests per command, for progress
  std::vector<Reply> replies;
  std::uint64_t done = 0;
  std::size_t i = 0;
  while (i < digests.size()) {
    commands.clear();
    sizes.clear();
    while (i < digests.size() && commands.size() < per_trip) {
      const std::uint64_t bucket = layout.Bucket(digests[i]);
      Command c;
      c.args = {"EVALSHA", sha, "1", layout.BucketKey(bucket)};
      c.key_arg = 3;
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
    if (auto st = client.Execute(commands, replies); !st.ok()) return Fail(st.error());
    for (std::size_t k = 0; k < replies.size(); ++k) {
      Reply* r = &replies[k];
      Reply fallback;
      if (r->is_error() && r->str.rfind("NOSCRIPT", 0) == 0) {
        Command c = commands[k];
        c.args[0] = "EVAL";
        c.args[1] = std::string(kLoadScript);
        auto again = client.Execute(c);
        if (!again.ok()) return Fail(again.error());
        fallback = std::move(*again);
        r = &fallback;
      }
      if (r->is_error()) return Fail("redis: loading " + commands[k].args[3] + ": " + r->str);
      if (r->type != Reply::Type::kArray || r->elements.size() != 2) {
        return Fail("redis: unexpected reply while loading " + commands[k].args[3]);
      }
      report.added += static_cast<std::uint64_t>(r->elements[0].integer);
      report.largest_bucket =
          std::max(report.largest_bucket, static_cast<std::uint32_t>(r->elements[1].integer));
      report.digests += sizes[k];
      done += sizes[k];
    }
    if (options.progress) options.progress(done, digests.size());
  }

  auto total = client.Execute(
      Command::Keyed(1, {"HINCRBY", layout.MetaKey(), "count", std::to_string(report.added)}));
  if (!total.ok()) return Fail(total.error());
  if (total->is_error()) return Fail("redis: updating " + layout.MetaKey() + ": " + total->str);
  report.ledger_total = static_cast<std::uint64_t>(total->integer);

  auto memory = UsedMemory(client);
  if (!memory.ok()) return Fail(memory.error());
  report.used_memory = *memory;
  return report;
}

}  // namespace scrutin::redis

#include "adapters/redis/ledger_rebuild.hpp"

#include <algorithm>
#include <chrono>

#include "adapters/redis/eligibility_loader.hpp"
#include "adapters/redis/lua_script.hpp"
#include "adapters/redis/redis_status_store.hpp"

namespace scrutin::redis {
namespace {

using core::ErrorCode;
using core::Fail;

// KEYS[1] bucket; ARGV[1] marker (LedgerLayout::Marker); ARGV[2] n, the number of eligible fields;
// ARGV[3..2+n] the eligible fields (16-byte digest suffixes); then triples (field, claim tag: 16
// raw bytes, attempts in decimal) of the record's claims in this bucket. Inserts the missing
// eligible fields unclaimed (a lost bucket, every bucket after a FLUSHALL, in one HSET instead of
// one HSETNX per digest), sets each claim (the record's tag wins; the higher attempt count of Redis
// and the record is kept), then the marker, all or nothing. Returns {eligible added, claims
// restored, replaced, raised, unchanged}.
constexpr std::string_view kRebuildScript = R"lua(
local n = tonumber(ARGV[2])
local added = 0
if n > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  local pairs = {}
  for i = 3, 2 + n do
    pairs[#pairs + 1] = ARGV[i]
    pairs[#pairs + 1] = ''
  end
  added = redis.call('HSET', KEYS[1], unpack(pairs))
else
  for i = 3, 2 + n do
    added = added + redis.call('HSETNX', KEYS[1], ARGV[i], '')
  end
end
local restored, replaced, raised, unchanged = 0, 0, 0, 0
for i = 3 + n, #ARGV, 3 do
  local field, tag, attempts = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local v = redis.call('HGET', KEYS[1], field)
  if not v or v == '' then
    redis.call('HSET', KEYS[1], field, tag .. string.format('%d', attempts))
    restored = restored + 1
  else
    local holder = string.sub(v, 1, 16)
    local have = tonumber(string.sub(v, 17)) or 1
    if holder ~= tag then
      redis.call('HSET', KEYS[1], field, tag .. string.format('%d', math.max(attempts, have)))
      replaced = replaced + 1
    elseif have < attempts then
      redis.call('HSET', KEYS[1], field, tag .. string.format('%d', attempts))
      raised = raised + 1
    else
      unchanged = unchanged + 1
    end
  end
end
if redis.call('HGET', KEYS[1], '#') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], '#', ARGV[1])
end
return {added, restored, replaced, raised, unchanged}
)lua";

const LuaScript& Rebuild() {
  static const LuaScript script(kRebuildScript);
  return script;
}

}  // namespace

LedgerRebuild::LedgerRebuild(RedisClient& client, std::span<const core::Digest> sorted,
                             RebuildOptions options, LedgerLayout layout)
    : client_(client), digests_(sorted), options_(std::move(options)), layout_(std::move(layout)) {
  report_.bucket_bits = layout_.bucket_bits;
  report_.id = layout_.id;
}

core::Result<std::unique_ptr<LedgerRebuild>> LedgerRebuild::Start(
    RedisClient& client, std::span<const core::Digest> sorted, RebuildOptions options) {
  if (!std::is_sorted(sorted.begin(), sorted.end())) {
    return Fail(ErrorCode::kRefused,
                std::string("ledger rebuild: the eligibility database's digests are not sorted"));
  }
  auto prepared =
      PrepareLedger(client, sorted, options.prefix, /*bucket_bits=*/0, options.configure_listpack);
  if (!prepared.ok()) return Fail(prepared.code(), prepared.error());
  if (!prepared->recorded_id.empty() && prepared->recorded_id != prepared->layout.id) {
    return Fail(ErrorCode::kRefused,
                "Redis holds the ledger of another eligibility database under prefix '" +
                    options.prefix + "' (id " + prepared->recorded_id + ", this database's is " +
                    prepared->layout.id +
                    "): is --hashes the election's database? Nothing was written");
  }
  if (auto st = Rebuild().Load(client); !st.ok()) return Fail(st.code(), st.error());
  return std::unique_ptr<LedgerRebuild>(
      new LedgerRebuild(client, sorted, std::move(options), std::move(prepared->layout)));
}

core::Status LedgerRebuild::EmitBucket() {
  const std::uint64_t bucket = next_bucket_++;
  Command c = Rebuild().Call(layout_.BucketKey(bucket));
  c.args.push_back(layout_.Marker());
  c.args.emplace_back();  // n, set once the bucket's fields are counted
  std::uint64_t n = 0;
  for (; digest_index_ < digests_.size() && layout_.Bucket(digests_[digest_index_]) == bucket;
       ++digest_index_) {
    if (n > 0 && digests_[digest_index_] == digests_[digest_index_ - 1]) continue;
    c.args.push_back(LedgerLayout::Field(digests_[digest_index_]));
    ++n;
  }
  c.args[5] = std::to_string(n);
  for (auto& claim : pending_claims_) {
    c.args.push_back(std::move(claim.field));
    c.args.push_back(std::move(claim.tag));
    c.args.push_back(std::to_string(claim.attempts));
  }
  pending_claims_.clear();
  bucket_commands_.push_back(std::move(c));
  bucket_sizes_.push_back(n);
  if (bucket_commands_.size() >= std::max<std::size_t>(1, options_.buckets_per_round_trip)) {
    return FlushBuckets();
  }
  return {};
}

core::Status LedgerRebuild::FlushBuckets() {
  if (bucket_commands_.empty()) return {};
  std::vector<Reply> replies(bucket_commands_.size());
  if (auto st = Rebuild().Execute(client_, bucket_commands_, replies); !st.ok()) return st;
  for (std::size_t k = 0; k < replies.size(); ++k) {
    const Reply& r = replies[k];
    const std::string& key = bucket_commands_[k].args[3];
    if (r.is_error()) {
      return Fail(ErrorCode::kUnavailable, "redis: rebuilding " + key + ": " + r.str);
    }
    if (r.type != Reply::Type::kArray || r.elements.size() != 5) {
      return Fail(ErrorCode::kCorrupt, "redis: unexpected reply while rebuilding " + key);
    }
    report_.eligible_added += static_cast<std::uint64_t>(r.elements[0].integer);
    report_.claims_restored += static_cast<std::uint64_t>(r.elements[1].integer);
    report_.claims_replaced += static_cast<std::uint64_t>(r.elements[2].integer);
    report_.claims_raised += static_cast<std::uint64_t>(r.elements[3].integer);
    report_.claims_unchanged += static_cast<std::uint64_t>(r.elements[4].integer);
    report_.eligible += bucket_sizes_[k];
    ++report_.buckets;
  }
  bucket_commands_.clear();
  bucket_sizes_.clear();
  if (options_.progress) options_.progress(report_.eligible, digests_.size());
  return {};
}

core::Status LedgerRebuild::AddClaim(const core::Digest& digest, std::string_view claim_tag_hex,
                                     std::uint32_t attempts) {
  if (ledger_finished_) {
    return Fail(ErrorCode::kRefused, std::string("ledger rebuild: a claim after FinishLedger"));
  }
  if (last_claim_ && !(*last_claim_ < digest)) {
    return Fail(ErrorCode::kCorrupt,
                "ledger rebuild: the record's claims are not in ascending digest order (at " +
                    digest.ToHex().substr(0, 16) + "...)");
  }
  std::string tag(kClaimTagBytes, '\0');
  if (!core::HexDecode(claim_tag_hex, reinterpret_cast<std::uint8_t*>(tag.data()), tag.size())) {
    return Fail(ErrorCode::kCorrupt, "ledger rebuild: the claim of digest " +
                                         digest.ToHex().substr(0, 16) +
                                         "... has a claim tag that is not 32 hex characters");
  }
  if (!std::binary_search(digests_.begin(), digests_.end(), digest)) {
    return Fail(ErrorCode::kRefused,
                "ledger rebuild: the record holds a claim of digest " +
                    digest.ToHex().substr(0, 16) +
                    "..., which the eligibility database does not: is --hashes the election's "
                    "database? (buckets before it were restored; nothing after it)");
  }
  last_claim_ = digest;
  const std::uint64_t bucket = layout_.Bucket(digest);
  while (next_bucket_ < bucket) {
    if (auto st = EmitBucket(); !st.ok()) return st;
  }
  pending_claims_.push_back({LedgerLayout::Field(digest), std::move(tag), std::max(attempts, 1u)});
  return {};
}

core::Status LedgerRebuild::FinishLedger() {
  if (ledger_finished_) return {};
  while (next_bucket_ < layout_.Buckets()) {
    if (auto st = EmitBucket(); !st.ok()) return st;
  }
  if (auto st = FlushBuckets(); !st.ok()) return st;
  // The identity last, as the loader writes it: count is what the ledger holds.
  auto meta = client_.Execute(Command::Keyed(
      1, {"HSET", layout_.MetaKey(), "count", std::to_string(report_.eligible), "id", layout_.id}));
  if (!meta.ok()) return Fail(ErrorCode::kUnavailable, meta.error());
  if (meta->is_error()) {
    return Fail(ErrorCode::kUnavailable, "redis: writing " + layout_.MetaKey() + ": " + meta->str);
  }
  ledger_finished_ = true;
  return {};
}

core::Status LedgerRebuild::AddStatus(std::string_view status_key,
                                      const ports::StatusRecord& record,
                                      core::Timestamp expires_at) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(expires_at.time_since_epoch());
  Command c;
  c.args = {"SET", StatusKeyName(options_.prefix, status_key), EncodeStatus(record), "PXAT",
            std::to_string(ms.count())};
  // A pending record says less than whatever Redis holds (the validator may have decided since).
  if (record.status == core::VoteStatus::kPending) c.args.emplace_back("NX");
  c.key_arg = 1;
  status_commands_.push_back(std::move(c));
  if (status_commands_.size() >= std::max<std::size_t>(1, options_.statuses_per_round_trip)) {
    return FlushStatuses();
  }
  return {};
}

core::Status LedgerRebuild::FlushStatuses() {
  if (status_commands_.empty()) return {};
  std::vector<Reply> replies(status_commands_.size());
  if (auto st = client_.Execute(status_commands_, replies); !st.ok()) {
    return Fail(ErrorCode::kUnavailable, st.error());
  }
  for (const auto& r : replies) {
    if (r.is_error()) {
      return Fail(ErrorCode::kUnavailable, "redis: restoring a request status: " + r.str);
    }
    if (!r.is_nil()) ++report_.statuses_restored;  // nil: a pending one Redis already had
  }
  status_commands_.clear();
  return {};
}

core::Result<RebuildReport> LedgerRebuild::Finish() {
  if (auto st = FlushStatuses(); !st.ok()) return Fail(st.code(), st.error());
  return report_;
}

}  // namespace scrutin::redis

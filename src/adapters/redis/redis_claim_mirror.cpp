#include "adapters/redis/redis_claim_mirror.hpp"

#include <vector>

#include "adapters/redis/lua_script.hpp"

namespace scrutin::redis {
namespace {

using core::ErrorCode;
using core::Fail;

// KEYS[1] bucket; ARGV[1] the marker the ledger should carry ("" while its id is unknown: any),
// ARGV[2] field (16-byte digest suffix), ARGV[3] claim tag (16 raw bytes). Returns 0 unchanged,
// 1 restored, 2 replaced (the record's tag wins; the higher attempt count stays), -1 when the
// bucket's marker names another ledger (nothing written).
constexpr std::string_view kMirrorScript = R"lua(
local m = redis.call('HGET', KEYS[1], '#')
if m and ARGV[1] ~= '' and m ~= ARGV[1] then return -1 end
local v = redis.call('HGET', KEYS[1], ARGV[2])
if not v or v == '' then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. '1')
  return 1
end
if string.sub(v, 1, 16) == ARGV[3] then return 0 end
local n = tonumber(string.sub(v, 17)) or 1
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. string.format('%d', n))
return 2
)lua";

const LuaScript& Mirror() {
  static const LuaScript script(kMirrorScript);
  return script;
}

}  // namespace

core::Result<std::optional<LedgerLayout>> RedisClaimMirror::Layout(RedisClient& client,
                                                                   bool reread) {
  {
    core::MutexLock lock(mu_);
    if (layout_ && !reread) return layout_;
  }
  auto meta = ReadLedgerMeta(client, prefix_);
  if (!meta.ok()) return Fail(meta.code(), meta.error());
  core::MutexLock lock(mu_);
  if (meta->has_value() && !(*meta)->id.empty())
    layout_ = *meta;
  else if (reread)
    layout_.reset();
  return *meta;
}

core::Result<ports::MirrorReport> RedisClaimMirror::Reassert(
    std::span<const ports::ClaimRequest> claims) {
  ports::MirrorReport report;
  if (claims.empty()) return report;
  std::vector<std::string> tags;
  tags.reserve(claims.size());
  for (std::size_t i = 0; i < claims.size(); ++i) {
    std::string tag(kClaimTagBytes, '\0');
    if (!core::HexDecode(claims[i].claim_tag, reinterpret_cast<std::uint8_t*>(tag.data()),
                         tag.size())) {
      return Fail(ErrorCode::kRefused, "Reassert: claim " + std::to_string(i) +
                                           " has a claim tag that is not 32 hex characters");
    }
    tags.push_back(std::move(tag));
  }
  auto lease = pool_->Acquire();
  if (!lease.ok()) return Fail(ErrorCode::kUnavailable, lease.error());
  RedisClient& client = **lease;

  // A bucket marked with another ledger may mean the cached layout is stale (a rebuild chose other
  // bucket bits): read the meta key again and retry those claims once.
  std::vector<std::size_t> todo(claims.size());
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  for (int round = 0; round < 2 && !todo.empty(); ++round) {
    auto layout = Layout(client, /*reread=*/round > 0);
    if (!layout.ok()) return Fail(layout.code(), layout.error());
    if (!layout->has_value()) break;  // nothing under the prefix: skipped
    const LedgerLayout& l = **layout;
    const std::string marker = l.id.empty() ? std::string() : l.Marker();
    std::vector<Command> commands;
    commands.reserve(todo.size());
    for (std::size_t i : todo) {
      Command c = Mirror().Call(l.BucketKey(claims[i].digest));
      c.args.push_back(marker);
      c.args.push_back(LedgerLayout::Field(claims[i].digest));
      c.args.push_back(tags[i]);
      commands.push_back(std::move(c));
    }
    std::vector<Reply> replies(commands.size());
    if (auto st = Mirror().Execute(client, commands, replies); !st.ok()) {
      return Fail(st.code(), st.error());
    }
    std::vector<std::size_t> again;
    for (std::size_t k = 0; k < replies.size(); ++k) {
      const Reply& r = replies[k];
      if (r.is_error()) {
        return Fail(ErrorCode::kUnavailable,
                    "redis: mirroring a claim into " + commands[k].args[3] + ": " + r.str);
      }
      if (r.type != Reply::Type::kInteger || r.integer < -1 || r.integer > 2) {
        return Fail(ErrorCode::kCorrupt,
                    "redis: unexpected reply mirroring a claim into " + commands[k].args[3]);
      }
      switch (r.integer) {
        case 0:
          ++report.unchanged;
          break;
        case 1:
          ++report.restored;
          break;
        case 2:
          ++report.replaced;
          break;
        default:
          again.push_back(todo[k]);
      }
    }
    todo = std::move(again);
  }
  report.skipped = todo.size();
  return report;
}

}  // namespace scrutin::redis

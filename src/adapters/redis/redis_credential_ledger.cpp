#include "adapters/redis/redis_credential_ledger.hpp"

#include <vector>

#include "adapters/redis/lua_script.hpp"
#include "core/digest.hpp"

namespace scrutin::redis {
namespace {

using core::Fail;
using Kind = ports::ClaimOutcome::Kind;

// KEYS[1] bucket, ARGV[1] field (16-byte digest suffix), ARGV[2] claim tag (16 raw bytes),
// ARGV[3] the marker of the ledger the validator opened (LedgerLayout::Marker).
// Returns {kind, attempts}: 0 ineligible, 1 claimed, 2 replayed, 3 already claimed; or
// {-1, 1} when the bucket has no marker (Redis lost it: a missing digest says nothing about
// eligibility then) and {-2, 1} when its marker names another ledger; nothing is written then.
// A duplicate attempt is remembered in the same bucket under the 32-byte field suffix..tag, with
// its attempt number, so that a redelivered duplicate gets its first answer again instead of
// counting a new attempt. One key per vote keeps the script valid during a slot migration (a
// second key would make Redis answer TRYAGAIN until the migration ends). Eligible digests are the
// 16-byte fields; readers of the buckets skip the longer ones.
constexpr std::string_view kClaimScript = R"lua(
local got = redis.call('HMGET', KEYS[1], '#', ARGV[1])
if not got[1] then return {-1, 1} end
if got[1] ~= ARGV[3] then return {-2, 1} end
local v = got[2]
if not v then return {0, 1} end
if v == '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '1')
  return {1, 1}
end
local holder = string.sub(v, 1, 16)
local n = tonumber(string.sub(v, 17)) or 1
if holder == ARGV[2] then return {2, n} end
local seen = redis.call('HGET', KEYS[1], ARGV[1] .. ARGV[2])
if seen then return {3, tonumber(seen)} end
n = n + 1
redis.call('HSET', KEYS[1], ARGV[1], holder .. string.format('%d', n), ARGV[1] .. ARGV[2],
           string.format('%d', n))
return {3, n}
)lua";

const LuaScript& Claim() {
  static const LuaScript script(kClaimScript);
  return script;
}

// `bucket` and `id` name what the script looked at, for the operator's message.
core::Result<ports::ClaimOutcome> ParseOutcome(const Reply& reply, const std::string& bucket,
                                               const std::string& id) {
  // An error reply is the server's state (LOADING, BUSY, CLUSTERDOWN, OOM): unavailable for now.
  if (reply.is_error()) {
    return Fail(core::ErrorCode::kUnavailable, "redis: claim script failed: " + reply.str);
  }
  if (reply.type != Reply::Type::kArray || reply.elements.size() != 2 ||
      reply.elements[0].type != Reply::Type::kInteger ||
      reply.elements[1].type != Reply::Type::kInteger || reply.elements[0].integer < -2 ||
      reply.elements[0].integer > 3 || reply.elements[1].integer < 1) {
    return Fail(core::ErrorCode::kCorrupt,
                std::string("redis: unexpected reply from the claim script"));
  }
  if (reply.elements[0].integer == -1) {
    return Fail(core::ErrorCode::kStateLost,
                "the credential ledger in Redis is missing (bucket " + bucket +
                    " has no marker: Redis lost its data?): run `scrutin ledger rebuild`; nothing "
                    "was decided");
  }
  if (reply.elements[0].integer == -2) {
    return Fail(core::ErrorCode::kStateLost,
                "Redis holds a different credential ledger (bucket " + bucket +
                    " is not marked with ledger " + id +
                    ", which this validator opened): another eligibility database was loaded; "
                    "restart the validators, or load the election's database again; nothing was "
                    "decided");
  }
  ports::ClaimOutcome out;
  out.kind = static_cast<Kind>(reply.elements[0].integer);
  out.attempt_count = static_cast<std::uint32_t>(
      std::min<long long>(reply.elements[1].integer, std::numeric_limits<std::uint32_t>::max()));
  return out;
}

}  // namespace

core::Result<std::unique_ptr<RedisCredentialLedger>> RedisCredentialLedger::Open(
    std::shared_ptr<RedisClientPool> pool, std::string_view prefix) {
  auto lease = pool->Acquire();
  if (!lease.ok()) return Fail(lease.error());
  auto layout = ReadLedgerLayout(**lease, prefix);
  if (!layout.ok()) return Fail(layout.code(), layout.error());
  if (auto st = Claim().Load(**lease); !st.ok()) return Fail(st.code(), st.error());
  return std::unique_ptr<RedisCredentialLedger>(
      new RedisCredentialLedger(std::move(pool), std::move(*layout)));
}

namespace {

// A failure of the client is the network's or the server's availability (connection refused,
// timeout, node down): kUnavailable unless the client classified it already.
core::Status Unavailable(std::string error, core::ErrorCode code = core::ErrorCode::kUnknown) {
  return core::Fail(code == core::ErrorCode::kUnknown ? core::ErrorCode::kUnavailable : code,
                    std::move(error));
}

}  // namespace

core::Status RedisCredentialLedger::ClaimBatch(std::span<const ports::ClaimRequest> in,
                                               std::span<ports::ClaimOutcome> out) {
  if (in.size() != out.size()) {
    return Fail(core::ErrorCode::kRefused, std::string("ClaimBatch: in and out sizes differ"));
  }
  if (in.empty()) return {};
  std::vector<Command> commands;
  commands.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::string tag(kClaimTagBytes, '\0');
    if (!core::HexDecode(in[i].claim_tag, reinterpret_cast<std::uint8_t*>(tag.data()),
                         tag.size())) {
      return Fail(core::ErrorCode::kRefused, "ClaimBatch: request " + std::to_string(i) +
                                                 " has a claim tag that is not 32 hex characters");
    }
    Command c = Claim().Call(layout_.BucketKey(in[i].digest));
    c.args.push_back(LedgerLayout::Field(in[i].digest));
    c.args.push_back(std::move(tag));
    c.args.push_back(layout_.Marker());
    commands.push_back(std::move(c));
  }
  auto lease = pool_->Acquire();
  if (!lease.ok()) return Unavailable(lease.error(), lease.code());
  std::vector<Reply> replies(commands.size());
  if (auto st = Claim().Execute(**lease, commands, replies); !st.ok()) {
    return Unavailable(st.error(), st.code());
  }
  // A lost bucket fails the whole batch with kStateLost, whatever else it holds: the caller must
  // not decide any of it (it waits and retries; the requests of intact buckets that were applied
  // answer kReplayed then).
  core::Status failed;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    auto outcome = ParseOutcome(replies[i], commands[i].args[3], layout_.Marker());
    if (!outcome.ok()) {
      if (outcome.code() == core::ErrorCode::kStateLost)
        return Fail(outcome.code(), outcome.error());
      if (failed.ok()) failed = Fail(outcome.code(), outcome.error());
      continue;
    }
    out[i] = *outcome;
  }
  return failed;
}

}  // namespace scrutin::redis

#include "adapters/redis/redis_status_store.hpp"

#include <charconv>
#include <vector>

namespace scrutin::redis {
namespace {

using core::Fail;
// Every failure of the client (no connection, timeout, an error reply) is Redis being unavailable.
constexpr core::ErrorCode kUnavailable = core::ErrorCode::kUnavailable;
using core::VoteStatus;

char StatusLetter(VoteStatus s) {
  switch (s) {
    case VoteStatus::kPending:
      return 'p';
    case VoteStatus::kAccepted:
      return 'a';
    case VoteStatus::kDuplicate:
      return 'd';
    case VoteStatus::kInvalid:
      return 'i';
  }
  return 'p';
}

std::optional<VoteStatus> StatusFromLetter(char c) {
  switch (c) {
    case 'p':
      return VoteStatus::kPending;
    case 'a':
      return VoteStatus::kAccepted;
    case 'd':
      return VoteStatus::kDuplicate;
    case 'i':
      return VoteStatus::kInvalid;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string EncodeStatus(const ports::StatusRecord& record) {
  std::string v;
  v.reserve(16 + record.law_id.size());
  v += StatusLetter(record.status);
  v += std::to_string(record.attempt_count);
  v += '|';
  v += record.law_id;
  return v;
}

std::optional<ports::StatusRecord> DecodeStatus(std::string_view value) {
  if (value.size() < 3) return std::nullopt;
  auto status = StatusFromLetter(value[0]);
  auto bar = value.find('|');
  if (!status || bar == std::string_view::npos || bar < 2) return std::nullopt;
  ports::StatusRecord r;
  r.status = *status;
  auto digits = value.substr(1, bar - 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), r.attempt_count);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  r.law_id = std::string(value.substr(bar + 1));
  return r;
}

RedisStatusStore::RedisStatusStore(std::shared_ptr<RedisClientPool> pool,
                                   std::chrono::seconds default_ttl, std::string prefix)
    : pool_(std::move(pool)), default_ttl_(default_ttl), prefix_(std::move(prefix)) {}

std::string StatusKeyName(std::string_view prefix, std::string_view status_key) {
  std::string key;
  key.reserve(prefix.size() + 2 + status_key.size());
  key += prefix;
  key += "s:";
  key += status_key;
  return key;
}

std::string RedisStatusStore::Key(const core::RequestId& id) const {
  return StatusKeyName(prefix_, core::StatusKey(id));
}

core::Status RedisStatusStore::Put(std::span<const StatusEntry> entries, bool only_if_absent) {
  if (entries.empty()) return {};
  const auto now = core::Clock::now();
  std::vector<Command> commands(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    auto expires = e.expires_at == core::Timestamp{} ? now + default_ttl_ : e.expires_at;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(expires.time_since_epoch());
    auto& c = commands[i];
    c.args = {"SET", Key(e.id), EncodeStatus(e.record), "PXAT", std::to_string(ms.count())};
    if (only_if_absent) c.args.emplace_back("NX");
    c.key_arg = 1;
  }
  auto lease = pool_->Acquire();
  if (!lease.ok()) return Fail(kUnavailable, lease.error());
  std::vector<Reply> replies(commands.size());
  if (auto st = (*lease)->Execute(commands, replies); !st.ok()) {
    return Fail(kUnavailable, st.error());
  }
  for (const auto& r : replies) {
    if (r.is_error()) return Fail(kUnavailable, "redis: writing a request status: " + r.str);
  }
  return {};
}

core::Result<std::optional<ports::StatusRecord>> RedisStatusStore::FindStatus(
    const core::RequestId& id) {
  auto lease = pool_->Acquire();
  if (!lease.ok()) return Fail(kUnavailable, lease.error());
  auto reply = (*lease)->Execute(Command::Keyed(1, {"GET", Key(id)}));
  if (!reply.ok()) return Fail(kUnavailable, reply.error());
  if (reply->is_error()) {
    return Fail(kUnavailable, "redis: reading a request status: " + reply->str);
  }
  if (reply->is_nil()) return std::optional<ports::StatusRecord>();
  auto record = DecodeStatus(reply->str);
  if (!record) {
    return Fail(core::ErrorCode::kCorrupt,
                std::string("redis: a request status record is malformed"));
  }
  return std::optional<ports::StatusRecord>(std::move(*record));
}

core::Result<ports::Tally> RedisStatusStore::FindTally(const std::string&) {
  return Fail(core::ErrorCode::kRefused,
              std::string("tallies are in PostgreSQL, not in the Redis status store"));
}

}  // namespace scrutin::redis

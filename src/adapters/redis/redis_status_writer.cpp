#include "adapters/redis/redis_status_writer.hpp"

#include <vector>

namespace scrutin::redis {

core::Status RedisStatusWriter::Write(std::span<const ports::StatusUpdate> updates,
                                      bool only_if_absent) {
  std::vector<StatusEntry> entries;
  entries.reserve(updates.size());
  for (const auto& u : updates) entries.push_back({u.id, u.record, u.expires_at});
  return store_.Put(entries, only_if_absent);
}

}  // namespace scrutin::redis

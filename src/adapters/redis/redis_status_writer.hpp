// RedisStatusWriter: ports::StatusWriter over RedisStatusStore, the per-request statuses of the
// distributed shape (the api writes `pending`, the validator the final status). The store holds
// the key layout and the expiry; this class only maps the port's updates onto its entries.
#pragma once

#include <span>

#include "adapters/redis/redis_status_store.hpp"
#include "core/result.hpp"
#include "ports/status_writer.hpp"

namespace scrutin::redis {

// Thread-safe (as RedisStatusStore::Put is). `store` must outlive this object.
class RedisStatusWriter final : public ports::StatusWriter {
 public:
  explicit RedisStatusWriter(RedisStatusStore& store) : store_(store) {}

  // One RedisStatusStore::Put of every update (one pipelined round trip per node); see
  // ports::StatusWriter::Write for success, failure and only_if_absent.
  core::Status Write(std::span<const ports::StatusUpdate> updates, bool only_if_absent) override;

 private:
  RedisStatusStore& store_;
};

}  // namespace scrutin::redis

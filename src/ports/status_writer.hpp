// StatusWriter: where the distributed shape keeps each request's status for
// GET /api/v1/vote/{request_id}. The api writes `pending` right before it hands a vote on (so a GET
// right after the 202 never answers 404); the aggregator writes the final status once PostgreSQL,
// the record, holds the decision.
//
// Implementation: RedisStatusWriter (adapters/redis/redis_status_writer.hpp, over
// redis::RedisStatusStore).
#pragma once

#include <memory>
#include <span>

#include "core/request_id.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::ports {

struct StatusUpdate {
  core::RequestId id;
  StatusRecord record;
  // When the record may be forgotten (the law's close plus the retention time); the epoch means
  // "the store's default".
  core::Timestamp expires_at{};
};

class StatusWriter {
 public:
  virtual ~StatusWriter() = default;

  // Writes every update, in one round trip where the backend allows. only_if_absent: keep a record
  // that already exists (the api's `pending` must never overwrite a final status the aggregator
  // wrote first). Success: every record is stored. Error (backend unreachable or refusing): some
  // may be stored; writing the same updates again is safe; code() is kUnavailable when the backend
  // could not be reached or timed out. Thread-safe. Blocking: may block on the network up to the
  // client's timeouts; the distributed api calls it from its intake's worker threads, never from an
  // HTTP thread.
  virtual core::Status Write(std::span<const StatusUpdate> updates, bool only_if_absent) = 0;
};

using StatusWriterPtr = std::unique_ptr<StatusWriter>;

}  // namespace scrutin::ports

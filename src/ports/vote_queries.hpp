// VoteQueries: the read side of the API — request statuses and tallies.
//
// Implementations: SqliteVoteQueries (embedded); Redis (statuses) and PostgreSQL (tallies) in the
// distributed shape.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/request_id.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::ports {

struct StatusRecord {
  std::string law_id;
  core::VoteStatus status = core::VoteStatus::kPending;
  std::uint32_t attempt_count = 0;
};

struct Tally {
  std::string law_id;
  std::uint64_t oui = 0;
  std::uint64_t non = 0;
  core::Timestamp updated_at;
};

class VoteQueries {
 public:
  virtual ~VoteQueries() = default;

  // The recorded status of a request; nullopt when unknown (never recorded, or expired).
  // Error only when the store cannot be read. Thread-safe.
  virtual core::Result<std::optional<StatusRecord>> FindStatus(const core::RequestId& id) = 0;

  // The tally of one law (zeroes when no vote was counted yet). Thread-safe.
  virtual core::Result<Tally> FindTally(const std::string& law_id) = 0;
};

using VoteQueriesPtr = std::unique_ptr<VoteQueries>;

}  // namespace scrutin::ports

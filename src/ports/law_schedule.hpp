// LawSchedule: where the closing times moved on the admin port are kept, with the audit of every
// such action (docs/operations.md "Emergency close and extension"). Every process that enforces a
// law's window (the api instances, serve) or acts at its close (the mixers) reads it; the admin
// port writes it (pipeline/law_control.hpp decides what may be written).
//
// Implementations: SqliteLawSchedule (serve) and PostgresLawSchedule (the distributed shape, read
// by every api and aggregator every half second); the fake in ports/testing. All pass
// ports/testing/law_schedule_contract.hpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::ports {

enum class AdminAction : std::uint8_t { kClose, kExtend };
inline const char* ToString(AdminAction a) { return a == AdminAction::kClose ? "close" : "extend"; }

struct ScheduledClose {
  std::string law_id;
  core::Timestamp closes_at;
};

class LawSchedule {
 public:
  virtual ~LawSchedule() = default;

  // The closing time set for every law that has one (a law absent closes as configured).
  // Errors: kUnavailable (store unreachable). Thread-safe; blocks on the store.
  virtual core::Result<std::vector<ScheduledClose>> Load() = 0;

  // In one transaction: sets `law_id`'s closing time to `closes_at` and appends the audit row
  // (action, previous and new closing time, when). Refused (kRefused, nothing written) when the
  // law's record is already sealed: a record never changes, so neither may its window.
  // Errors: kUnavailable (store unreachable or busy). Thread-safe; blocks on the store.
  virtual core::Status Set(const std::string& law_id, AdminAction action,
                           core::Timestamp previous, core::Timestamp closes_at) = 0;
};

using LawSchedulePtr = std::unique_ptr<LawSchedule>;

}  // namespace scrutin::ports

// VoteIntake: the front door of a shape. The HTTP API hands it a hashed vote and answers the voter
// only when the intake says the vote is durable (202) or that it cannot be (503).
//
// Implementations: pipeline::BatchingVoteIntake (embedded: decide + SQLite group commit before the
// answer) and the RabbitMQ publisher (distributed: publish + broker confirm before the answer).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/vote.hpp"

namespace scrutin::ports {

struct IntakeResult {
  enum class Kind {
    kDurable,      // durably recorded: answer 202 with `decision` (status may be kPending)
    kUnavailable,  // cannot be made durable now (store or broker down): answer 503
    kOverloaded,   // queue full: answer 503 too, with a shorter Retry-After
  };
  Kind kind = Kind::kUnavailable;
  core::Decision decision;
  std::chrono::seconds retry_after{1};
};

struct HealthCheck {
  std::string name;  // "store", "queue", "eligibility", ...
  bool ok = false;
  std::string detail;  // for the operator; never contains a credential
};

class VoteIntake {
 public:
  using Callback = std::function<void(IntakeResult)>;
  virtual ~VoteIntake() = default;

  // Takes a vote; never blocks (a full queue is answered kOverloaded at once), so HTTP threads
  // call it. Calls `done` exactly once, from any thread (possibly before Submit returns), once the
  // vote is durable or known not to be; `done` must not block. Thread-safe.
  virtual void Submit(core::VoteEnvelope vote, Callback done) = 0;

  // Current state of each dependency. Thread-safe; cheap enough for a probe every second. Reports
  // what the intake last saw rather than querying a backend where it can (the decorating
  // PendingStatusIntake adds probes handed to it, which may ask their backend, bounded by its
  // client's timeouts); called from the health route's thread, not from the vote path.
  virtual std::vector<HealthCheck> Health() = 0;
};

using VoteIntakePtr = std::unique_ptr<VoteIntake>;

}  // namespace scrutin::ports

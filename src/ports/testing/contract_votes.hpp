// The votes and decisions the contract suites build: one definition for every suite.
// Private to src/ports/testing: other modules use its public headers.
#pragma once

#include <cstdint>
#include <string>

#include "core/digest.hpp"
#include "core/request_id.hpp"
#include "core/vote.hpp"

namespace scrutin::ports::testing {

// A vote with a fresh request id, received now.
inline core::VoteEnvelope MakeVote(const core::Digest& digest, const std::string& law,
                                   core::Choice choice) {
  core::VoteEnvelope v;
  v.request_id = core::RequestId::Generate();
  v.digest = digest;
  v.law_id = law;
  v.choice = choice;
  v.received_at = core::Clock::now();
  return v;
}

inline core::Decision MakeDecision(core::VoteStatus status, std::uint32_t attempts = 1,
                                   bool replay = false) {
  core::Decision d;
  d.status = status;
  d.attempt_count = attempts;
  d.replay = replay;
  return d;
}

}  // namespace scrutin::ports::testing

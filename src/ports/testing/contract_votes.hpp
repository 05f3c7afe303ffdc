// The votes and decisions the contract suites build, sealed with the tests' ballot key, and the
// helpers that open and mix them: one definition for every suite and every adapter's tests.
#pragma once

#include <cstdint>
#include <string>

#include <array>
#include <span>

#include "core/digest.hpp"
#include "core/request_id.hpp"
#include "core/sealed_ballot.hpp"
#include "core/vote.hpp"
#include "ports/ballot_box.hpp"

namespace scrutin::ports::testing {

// The ballot key of every test vote (a fixed key: tests are not secret).
inline const core::BallotSealer& TestSealer() {
  static const core::BallotSealer sealer = [] {
    std::array<std::uint8_t, core::kBallotKeySize> key{};
    key.fill(0x42);
    return core::BallotSealer::Create(key).value();
  }();
  return sealer;
}

// A vote with a fresh request id, received now, its choice sealed with TestSealer().
inline core::VoteEnvelope MakeVote(const core::Digest& digest, const std::string& law,
                                   core::Choice choice) {
  core::VoteEnvelope v;
  v.request_id = core::RequestId::Generate();
  v.digest = digest;
  v.law_id = law;
  v.ballot = TestSealer().Seal(law, choice, core::Receipt(v.request_id)).value();
  v.received_at = core::Clock::now();
  return v;
}

// Opens a group with TestSealer() (in the order given: tests need no shuffle).
inline BallotBox::Opener TestOpener(const std::string& law) {
  return [law](std::span<const core::SealedBallot> sealed) -> core::Result<OpenedGroup> {
    OpenedGroup g;
    for (const auto& s : sealed) {
      auto opened = TestSealer().Open(law, s);
      if (!opened) return core::Fail(opened.code(), opened.error());
      g.choices.push_back(opened->choice);
      g.receipts.push_back(opened->receipt);
    }
    return g;
  };
}

// Mixes every sealed ballot of `law` waiting in `box` as one group (what the mixer does at the
// close); how many it mixed.
inline core::Result<std::size_t> MixAll(BallotBox& box, const std::string& law) {
  auto r = box.Mix(law, MixRule{}, TestOpener(law));
  if (!r) return core::Fail(r.code(), r.error());
  return r->mixed;
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

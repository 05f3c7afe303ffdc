// FakeDecisionPublisher: an in-memory DecisionPublisher for tests of code written over the port
// (pipeline), in place of a hand-written publisher per test file. It keeps every vote it was given
// with its decision, in order (the next stage as a list); Aggregation() and Audit() split them as
// the real topology routes them (accepted -> aggregation; duplicate and invalid -> audit). It can
// fail on demand, storing nothing. It passes DecisionPublisherContract (ports_testing_test runs
// it).
#pragma once

#include <cassert>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/decision_publisher.hpp"

namespace scrutin::ports::testing {

class FakeDecisionPublisher final : public DecisionPublisher {
 public:
  // `on_publish`, when given, is called after every successful Publish (e.g. to journal the order
  // of events across fakes).
  explicit FakeDecisionPublisher(std::function<void()> on_publish = {})
      : on_publish(std::move(on_publish)) {}

  // Not thread-safe: one caller at a time, as the port requires.
  core::Status Publish(std::span<const core::VoteEnvelope> votes,
                       std::span<const core::Decision> decisions) override {
    assert(votes.size() == decisions.size());
    if (fail) return core::Fail(fail_code, std::string("broker down"));
    for (std::size_t i = 0; i < votes.size(); ++i) {
      assert(decisions[i].status != core::VoteStatus::kPending);
      published.emplace_back(votes[i], decisions[i]);
    }
    if (on_publish) on_publish();
    return {};
  }

  // What reached each side of the next stage, in publishing order.
  std::vector<std::pair<core::VoteEnvelope, core::Decision>> Aggregation() const {
    return Side(true);
  }
  std::vector<std::pair<core::VoteEnvelope, core::Decision>> Audit() const { return Side(false); }

  bool fail = false;  // Publish answers fail_code "broker down" and stores nothing
  core::ErrorCode fail_code = core::ErrorCode::kUnavailable;
  // Every vote published, with its decision, in order (both sides).
  std::vector<std::pair<core::VoteEnvelope, core::Decision>> published;
  std::function<void()> on_publish;

 private:
  std::vector<std::pair<core::VoteEnvelope, core::Decision>> Side(bool aggregation) const {
    std::vector<std::pair<core::VoteEnvelope, core::Decision>> out;
    for (const auto& p : published) {
      if ((p.second.status == core::VoteStatus::kAccepted) == aggregation) out.push_back(p);
    }
    return out;
  }
};

}  // namespace scrutin::ports::testing

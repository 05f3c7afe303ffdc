// The DecisionPublisher contract (ports/decision_publisher.hpp) as a GoogleTest suite that every
// publisher must pass, observed from the next stage: a success means every vote of the batch has
// arrived there with its own decision (accepted votes on the aggregation side, duplicates and
// invalid attempts on the audit side); the same batch published again arrives again (the next
// stage, not the publisher, is idempotent); an empty batch succeeds; a next stage that cannot be
// reached is an error, never a success. A test target instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Rabbit, DecisionPublisherContract,
//                            ::testing::Values(ports::testing::PublisherFactory{"Rabbit", ...}),
//                            ports::testing::FactoryName<ports::testing::PublisherFactory>);
//
// What only one publisher does (messages per routing key, confirms, retries) stays in the
// adapter's own suite.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/vote.hpp"
#include "ports/decision_publisher.hpp"
#include "ports/testing/credential_ledger_contract.hpp"

namespace scrutin::ports::testing {

// A vote as the next stage received it.
struct DeliveredVote {
  core::VoteEnvelope vote;
  core::Decision decision;
};

// The two sides of the next stage: accepted votes go to aggregation (the record and the tallies),
// duplicates and invalid attempts to the audit.
enum class NextStage { kAggregation, kAudit };

// One publisher over a working, empty next stage; destroying it releases (and may delete) the
// next stage's queues.
class PublisherUnderTest {
 public:
  virtual ~PublisherUnderTest() = default;
  virtual DecisionPublisher& publisher() = 0;
  // Takes the votes that reached `side` and were not taken before, in arrival order, waiting (a
  // few seconds at most) until at least `want` of them have arrived.
  virtual std::vector<DeliveredVote> Take(NextStage side, std::size_t want) = 0;
  // From now on publisher() cannot reach the next stage (broker down or unreachable).
  virtual void BreakNextStage() = 0;
};

// Builds a publisher over an empty next stage, or reports a failure (ADD_FAILURE) and returns
// nullptr.
struct PublisherFactory {
  std::string name;
  std::function<std::unique_ptr<PublisherUnderTest>()> make;
};

inline void PrintTo(const PublisherFactory& f, std::ostream* os) { *os << f.name; }

class DecisionPublisherContract : public ::testing::TestWithParam<PublisherFactory> {
 protected:
  static constexpr const char* kLaw = "L2025-001";

  void SetUp() override;

  static core::VoteEnvelope Vote(const core::Digest& digest, core::Choice choice);
  static core::Decision Decided(core::VoteStatus status, std::uint32_t attempts = 1,
                                bool replay = false);

  std::unique_ptr<PublisherUnderTest> under_test_;
};

}  // namespace scrutin::ports::testing

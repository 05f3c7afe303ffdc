// The VoteIntake contract (ports/vote_intake.hpp) as a GoogleTest suite: every vote submitted is
// answered exactly once, never kDurable while the backend cannot make it durable, and Health()
// names each dependency. A test target instantiates it with a factory per intake:
//
//   INSTANTIATE_TEST_SUITE_P(Batching, VoteIntakeContract,
//                            ::testing::Values(ports::testing::IntakeFactory{"Batching", ...}),
//                            ports::testing::FactoryName<ports::testing::IntakeFactory>);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "core/vote.hpp"
#include "ports/testing/credential_ledger_contract.hpp"
#include "ports/vote_intake.hpp"

namespace scrutin::ports::testing {

// One intake over working backends; destroying it stops the intake.
class IntakeUnderTest {
 public:
  virtual ~IntakeUnderTest() = default;
  virtual VoteIntake& intake() = 0;
  // A fresh vote of an eligible voter for an open law (a new request id each call).
  virtual core::VoteEnvelope EligibleVote() = 0;
  // From now on the backend cannot make a vote durable (store or broker down).
  virtual void BreakBackend() = 0;
};

struct IntakeFactory {
  std::string name;
  std::function<std::unique_ptr<IntakeUnderTest>()> make;
};

inline void PrintTo(const IntakeFactory& f, std::ostream* os) { *os << f.name; }

class VoteIntakeContract : public ::testing::TestWithParam<IntakeFactory> {
 protected:
  void SetUp() override;

  std::unique_ptr<IntakeUnderTest> under_test_;
};

}  // namespace scrutin::ports::testing

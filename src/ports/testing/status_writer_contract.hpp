// The StatusWriter contract (ports/status_writer.hpp) as a GoogleTest suite, observed through the
// VoteQueries that serve the same statuses: what is written is read back, only_if_absent never
// overwrites, writing the same updates again is safe. An adapter's test target instantiates it:
//
//   INSTANTIATE_TEST_SUITE_P(Redis, StatusWriterContract,
//                            ::testing::Values(ports::testing::StatusWriterFactory{"Redis", ...}),
//                            ports::testing::FactoryName<ports::testing::StatusWriterFactory>);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "ports/status_writer.hpp"
#include "ports/testing/credential_ledger_contract.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::ports::testing {

// One empty status store under test; destroying it releases the store.
class StatusWriterUnderTest {
 public:
  virtual ~StatusWriterUnderTest() = default;
  virtual StatusWriter& writer() = 0;
  // Reads the statuses writer() wrote (FindStatus only).
  virtual VoteQueries& queries() = 0;
};

// Builds an empty store, or reports a failure (ADD_FAILURE) and returns nullptr.
struct StatusWriterFactory {
  std::string name;
  std::function<std::unique_ptr<StatusWriterUnderTest>()> make;
};

inline void PrintTo(const StatusWriterFactory& f, std::ostream* os) { *os << f.name; }

class StatusWriterContract : public ::testing::TestWithParam<StatusWriterFactory> {
 protected:
  void SetUp() override;
  // The status of `id` as the queries serve it; nullopt when unknown or unreadable.
  std::optional<StatusRecord> Read(const core::RequestId& id);

  std::unique_ptr<StatusWriterUnderTest> store_;
};

}  // namespace scrutin::ports::testing

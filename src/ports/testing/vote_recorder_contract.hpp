// The VoteRecorder contract (ports/vote_recorder.hpp) and the BallotBox contract
// (ports/ballot_box.hpp) as a GoogleTest suite that every store must pass, observed through the
// VoteQueries of the same store: what a batch records (sealed, counted only once mixed), what a
// redelivered or overlapping batch does not count again, before or after a mix, the statuses it
// leaves, a refused batch leaving nothing, and the mix rule, all or nothing. An adapter's test target links scrutin_ports_testing and instantiates it:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, VoteRecorderContract,
//                            ::testing::Values(ports::testing::RecorderFactory{"Sqlite", ...}),
//                            ports::testing::FactoryName<ports::testing::RecorderFactory>);
//
// What only one store does (audit rows, table layout, killed connections, group commit) stays in
// the adapter's own suite.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "core/ballot.hpp"
#include "ports/testing/credential_ledger_contract.hpp"
#include "ports/ballot_box.hpp"
#include "ports/law_schedule.hpp"
#include "ports/vote_queries.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::ports::testing {

// One empty store under test; destroying it releases (and may delete) the store.
class RecorderUnderTest {
 public:
  virtual ~RecorderUnderTest() = default;
  virtual VoteRecorder& recorder() = 0;
  // Reads what recorder() wrote: statuses of every kind and tallies.
  virtual VoteQueries& queries() = 0;
  // Mixes what recorder() sealed.
  virtual BallotBox& box() = 0;
  // The closing times moved on the admin port, kept in the same store (SaveRecord checks them);
  // nullptr when the store keeps none.
  virtual LawSchedule* schedule() { return nullptr; }
};

// Builds an empty store for `ballot` (its laws seeded with zero tallies), or reports a failure
// (ADD_FAILURE) and returns nullptr.
struct RecorderFactory {
  std::string name;
  std::function<std::unique_ptr<RecorderUnderTest>(const core::Ballot& ballot)> make;
};

inline void PrintTo(const RecorderFactory& f, std::ostream* os) { *os << f.name; }

class VoteRecorderContract : public ::testing::TestWithParam<RecorderFactory> {
 protected:
  static constexpr const char* kLawA = "L2025-001";
  static constexpr const char* kLawB = "L2025-002";

  void SetUp() override;

  static core::VoteEnvelope Vote(const core::Digest& digest, const char* law, core::Choice choice);
  static core::Decision Decided(core::VoteStatus status, std::uint32_t attempts = 1,
                                bool replay = false);
  // The (oui, non) tally of `law` once every ballot waiting was mixed, or (-1, -1) after a
  // failure.
  std::pair<long long, long long> TallyOf(const char* law);
  // The tally as it stands, nothing mixed.
  std::pair<long long, long long> UnmixedTallyOf(const char* law);

  core::Ballot ballot_;
  std::unique_ptr<RecorderUnderTest> store_;
};

}  // namespace scrutin::ports::testing

// The CredentialLedger contract (ports/credential_ledger.hpp) as a GoogleTest suite that every
// ledger must pass. An adapter's test target links scrutin_ports_testing and instantiates the suite
// with a factory for its ledger:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, CredentialLedgerContract,
//                            ::testing::Values(ports::testing::LedgerFactory{"Memory", ...}),
//                            ports::testing::LedgerFactoryName);
//
// RevertibleCredentialLedgerContract adds what Revert promises, for ledgers that implement it.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/digest.hpp"
#include "ports/credential_ledger.hpp"

namespace scrutin::ports::testing {

// Builds a fresh ledger whose eligibility database is exactly `eligible` (no claims yet), or
// reports a failure (ADD_FAILURE) and returns nullptr.
struct LedgerFactory {
  std::string name;
  std::function<CredentialLedgerPtr(const std::vector<core::Digest>& eligible)> make;
};

struct RevertibleLedgerFactory {
  std::string name;
  std::function<RevertibleCredentialLedgerPtr(const std::vector<core::Digest>& eligible)> make;
};

inline void PrintTo(const LedgerFactory& f, std::ostream* os) { *os << f.name; }
inline void PrintTo(const RevertibleLedgerFactory& f, std::ostream* os) { *os << f.name; }

template <typename Factory>
std::string FactoryName(const ::testing::TestParamInfo<Factory>& info) {
  return info.param.name;
}

// Random digests, distinct with overwhelming probability.
std::vector<core::Digest> RandomDigests(std::size_t n);

class CredentialLedgerContract : public ::testing::TestWithParam<LedgerFactory> {
 protected:
  void SetUp() override;
  ClaimOutcome Claim(const core::Digest& d, const std::string& tag);

  std::vector<core::Digest> eligible_;
  core::Digest outsider_;
  CredentialLedgerPtr ledger_;
};

class RevertibleCredentialLedgerContract
    : public ::testing::TestWithParam<RevertibleLedgerFactory> {
 protected:
  void SetUp() override;
  ClaimOutcome Claim(const core::Digest& d, const std::string& tag);

  std::vector<core::Digest> eligible_;
  core::Digest outsider_;
  RevertibleCredentialLedgerPtr ledger_;
};

}  // namespace scrutin::ports::testing

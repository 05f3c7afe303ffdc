// The shared fakes hold to the contracts of the ports they stand in for, so a pipeline test over a
// fake tests what a real adapter would do.
#include "ports/testing/credential_ledger_contract.hpp"
#include "ports/testing/fake_credential_ledger.hpp"

namespace scrutin::ports::testing {
namespace {

LedgerFactory FakeLedgerFactory() {
  return {"Fake", [](const std::vector<core::Digest>& eligible) -> CredentialLedgerPtr {
            return std::make_unique<FakeCredentialLedger>(eligible);
          }};
}
RevertibleLedgerFactory RevertibleFakeLedgerFactory() {
  return {"Fake", [](const std::vector<core::Digest>& eligible) -> RevertibleCredentialLedgerPtr {
            return std::make_unique<FakeCredentialLedger>(eligible);
          }};
}

INSTANTIATE_TEST_SUITE_P(Fake, CredentialLedgerContract, ::testing::Values(FakeLedgerFactory()),
                         FactoryName<LedgerFactory>);
INSTANTIATE_TEST_SUITE_P(Fake, RevertibleCredentialLedgerContract,
                         ::testing::Values(RevertibleFakeLedgerFactory()),
                         FactoryName<RevertibleLedgerFactory>);

}  // namespace
}  // namespace scrutin::ports::testing

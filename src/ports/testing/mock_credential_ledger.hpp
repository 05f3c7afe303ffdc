// MockCredentialLedger: a GMock double of the ledger, for tests that script the ledger's answers
// and check what it was asked (pipeline's Validator). Tests of behaviour over a working ledger
// use FakeCredentialLedger instead.
#pragma once

#include <gmock/gmock.h>

#include <span>

#include "core/result.hpp"
#include "ports/credential_ledger.hpp"

namespace scrutin::ports::testing {

class MockCredentialLedger : public RevertibleCredentialLedger {
 public:
  MOCK_METHOD(core::Status, ClaimBatch,
              (std::span<const ClaimRequest> in, std::span<ClaimOutcome> out), (override));
  MOCK_METHOD(core::Status, Revert,
              (std::span<const ClaimRequest> in, std::span<const ClaimOutcome> outcomes),
              (override));
};

}  // namespace scrutin::ports::testing

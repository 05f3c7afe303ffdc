// CredentialLedger: who may vote, and who already has. The one piece of shared state the vote
// decision needs: for each eligible credential digest, whether it has been claimed (and by which
// request, as a ClaimTag) and how many attempts it has seen.
//
// Implementations: MemoryCredentialLedger (embedded shape, in-process, rebuilt from SQLite at
// start; a RevertibleCredentialLedger) and RedisCredentialLedger (distributed shape, one atomic
// script per vote; durable, so it cannot revert). Every implementation passes the contract suite in
// ports/testing/credential_ledger_contract.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/digest.hpp"
#include "core/result.hpp"

namespace scrutin::ports {

struct ClaimRequest {
  core::Digest digest;
  std::string claim_tag;  // core::ClaimTag(request_id)
};

struct ClaimOutcome {
  enum class Kind : std::uint8_t {
    kIneligible,      // digest not in the eligibility database
    kClaimed,         // first claim: this request now holds the credential
    kReplayed,        // the credential is held by this same claim tag (a redelivery)
    kAlreadyClaimed,  // held by another request: a duplicate attempt
  };
  Kind kind = Kind::kIneligible;
  // kClaimed/kReplayed: attempts so far (1 for a fresh claim); kAlreadyClaimed: attempts including
  // this one (the first duplicate sees 2; ledgers fed by an at-least-once queue answer a
  // redelivered duplicate with its first count); kIneligible: 1.
  std::uint32_t attempt_count = 0;
};

class CredentialLedger {
 public:
  virtual ~CredentialLedger() = default;

  // Decides each request in order, atomically per request: within one batch a later request sees
  // the effects of earlier ones (two requests for one digest: the second is kAlreadyClaimed).
  // On success writes out[i] for every in[i]. On failure returns an error and out is unspecified:
  // code() kUnavailable when the backend could not be reached or timed out (retry the same batch
  // later), kRefused when a request is malformed (e.g. a claim tag that is not core::ClaimTag's;
  // nothing was applied), kCorrupt when the backend answered something the ledger cannot read,
  // kStateLost when the backend answers but lost the ledger's state some request needs (Redis
  // flushed or restarted empty): the ledger cannot tell eligible from not, so it decides nothing;
  // the caller must not decide the batch either (never `invalid` for it), but wait and retry the
  // same batch until an operator restored the state (`scrutin ledger rebuild`).
  // After kUnavailable or kStateLost requests may be partly applied, which is safe because
  // replaying a request with the same claim tag yields kReplayed, never a second claim.
  // REQUIRES: out.size() == in.size().
  // Thread-safety: the ledger is shared state; whether calls may overlap is the implementation's
  // (MemoryCredentialLedger: one caller at a time, the embedded writer thread;
  // RedisCredentialLedger: thread-safe). Blocking: may block on the network up to the client's
  // timeouts, so it is never called from an HTTP thread; the in-memory ledger never blocks.
  virtual core::Status ClaimBatch(std::span<const ClaimRequest> in,
                                  std::span<ClaimOutcome> out) = 0;
};

// A ledger that is not durable on its own can also undo a batch. Ledgers that are durable (Redis)
// do not offer this: their callers rely on redelivery with the same claim tag instead.
class RevertibleCredentialLedger : public CredentialLedger {
 public:
  // Reverts the effects of the immediately preceding ClaimBatch(in) whose outcomes were `out`,
  // used when the batch could not be made durable downstream so the voters can simply retry.
  // Afterwards deciding the same requests again gives the same outcomes. Error: the revert could
  // not be applied (the ledger no longer matches the store; the caller must stop).
  // REQUIRES: no ClaimBatch since the one being reverted.
  // Thread-safety: as ClaimBatch, by the same caller. Never blocks.
  virtual core::Status Revert(std::span<const ClaimRequest> in,
                              std::span<const ClaimOutcome> out) = 0;
};

using CredentialLedgerPtr = std::unique_ptr<CredentialLedger>;
using RevertibleCredentialLedgerPtr = std::unique_ptr<RevertibleCredentialLedger>;

}  // namespace scrutin::ports

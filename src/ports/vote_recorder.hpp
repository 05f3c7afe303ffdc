// VoteRecorder: makes a batch of decided votes durable — the audit trail, the accepted credentials,
// the secret ballots, the tallies and the request statuses — in one transaction.
//
// Implementations: SqliteVoteRecorder (embedded) and PostgresVoteRecorder (aggregator); both pass
// the contract suite in ports/testing/vote_recorder_contract.hpp.
#pragma once

#include <memory>
#include <span>

#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::ports {

class VoteRecorder {
 public:
  virtual ~VoteRecorder() = default;

  // Records votes[i] with decisions[i], all or nothing, and returns once the batch is committed;
  // it is then durable too, unless defers_sync() (below). For every vote: one audit row (digest,
  // law, status, attempt count, time; never the choice) and its request status. For accepted votes:
  // the digest with its claim tag is inserted if absent, and only when it was absent is a ballot
  // (receipt, law, choice; no digest, no time) written and the tally bumped — so recording the same
  // batch twice (a redelivery) counts nothing twice. For duplicates: the per-digest attempt count.
  //
  // The store is the record: on success decisions[i] is what the store now holds for votes[i],
  // which is what the voter must be told. A store that keeps the claims itself (PostgreSQL)
  // corrects a decision made from a ledger that lost part of its state: an accepted vote whose
  // credential the store already holds for another request becomes kDuplicate (no ballot, the
  // attempt count from the store's audit), a duplicate from the request that holds the claim
  // becomes kAccepted (replay), and a request recorded before keeps the decision recorded then. A
  // store whose only writer is also the only decider (SQLite under the embedded writer, whose
  // ledger is rebuilt from it) leaves the decisions as given.
  //
  // On failure nothing of the batch is visible, decisions are unspecified, and an error describing
  // the cause is returned; its code() says what the caller may do: kUnavailable (store
  // unreachable, timed out, busy: recording the same batch again later is safe), kRefused (the
  // batch itself cannot be recorded, e.g. a law not on the ballot or a kPending decision: retrying
  // it will not help), kCorrupt (the store is not what this binary expects).
  // REQUIRES: votes.size() == decisions.size(); no decision is kPending.
  // Thread-safety: one caller at a time. Blocking: blocks on the disk (SQLite, the embedded writer
  // thread) or the network up to the pool's timeouts (PostgreSQL, an aggregator worker); never
  // called from an HTTP thread.
  virtual core::Status Record(std::span<const core::VoteEnvelope> votes,
                              std::span<core::Decision> decisions) = 0;

  // Group commit across batches. A recorder that defers syncs returns from Record() once the batch
  // is committed (visible, all or nothing) but possibly not yet on disk; the batch is durable only
  // once a later Sync() returned success. One Sync() covers every batch whose Record() returned
  // before it began, so a caller can overlap the next batch's work with the previous batch's sync,
  // and must not report a batch durable (a 202) before that Sync().
  virtual bool defers_sync() const { return false; }

  // Makes every batch recorded before this call durable. Error: the sync failed, and whether those
  // batches are on disk cannot be known (after a failed fsync the kernel may have dropped the
  // pages): the caller must not go on as if they were, nor as if they were not.
  // Thread-safety: may run on another thread than Record(), concurrently with it. Blocks on the
  // disk (one fdatasync); a recorder that does not defer syncs returns at once.
  virtual core::Status Sync() { return {}; }
};

using VoteRecorderPtr = std::unique_ptr<VoteRecorder>;

}  // namespace scrutin::ports

// AggregationStage: what a distributed-shape aggregator does with one batch of decided votes:
//   1. record it (audit rows for every status; ballots and tallies only for accepted credentials
//      not counted before) in one durable transaction; the recorder is the record and hands back
//      each vote's final decision (it corrects a validator whose ledger lost claims);
//   2. re-assert the batch's accepted claims in the validators' ledger (ports::ClaimMirror), which
//      may have lost them, or been rebuilt from a snapshot of the record older than this commit;
//   3. write those final decisions as the voters' statuses (GET /api/v1/vote/{id}): a voter is
//      told `accepted`, with a receipt, only once the ballot exists and the ledger holds its claim;
//   4. only then report success so the caller may acknowledge its input.
//
// A failure returns an error and nothing may be acknowledged: the batch is delivered again, the
// recorder counts nothing twice (see ports::VoteRecorder) and gives the same final decisions.
//
// Thread-safety: Process may be called from several threads at once (several batches in flight)
// when the recorder is thread-safe, as PostgresVoteRecorder is; otherwise one caller at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <span>

#include "core/ballot.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/claim_mirror.hpp"
#include "ports/status_writer.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::pipeline {

class AggregationStage {
 public:
  // Called after a batch was committed and its statuses written, with the final decisions
  // (metrics). Must not block; may run on several threads.
  using Listener =
      std::function<void(std::span<const core::VoteEnvelope>, std::span<const core::Decision>)>;

  // `statuses` and `mirror` may be null (no status store, no ledger to keep in step: tests of the
  // recorder alone). Everything referenced must outlive the stage. Statuses are kept until the
  // law's close plus status_retention.
  AggregationStage(ports::VoteRecorder& recorder, ports::StatusWriter* statuses,
                   ports::ClaimMirror* mirror, const core::Ballot& ballot,
                   std::chrono::seconds status_retention, Listener listener = {})
      : recorder_(recorder),
        statuses_(statuses),
        mirror_(mirror),
        ballot_(ballot),
        status_retention_(status_retention),
        listener_(std::move(listener)) {}

  // Success: the batch is durable, decisions[i] is votes[i]'s final decision (as recorded) and
  // the voter's status says so; the batch may be acknowledged. Error: a pending decision in the
  // batch (a message that skipped the validator; code() kRefused), the recorder's failure with its
  // code (kUnavailable: redeliver later; kRefused/kCorrupt: redelivery will not help), or the
  // status store's or the mirror's (kUnavailable: the batch is recorded, redelivering it writes
  // the same statuses and claims). REQUIRES: decisions.size() == votes.size().
  core::Status Process(std::span<const core::VoteEnvelope> votes,
                       std::span<core::Decision> decisions);

  // What the mirror did since the stage was built, summed over every batch (for metrics: a claim
  // restored or replaced is one the ledger had lost). Thread-safe.
  ports::MirrorReport mirrored() const;

 private:
  ports::VoteRecorder& recorder_;
  ports::StatusWriter* const statuses_;
  ports::ClaimMirror* const mirror_;
  const core::Ballot& ballot_;
  const std::chrono::seconds status_retention_;
  Listener listener_;
  std::atomic<std::uint64_t> restored_{0}, replaced_{0}, unchanged_{0}, skipped_{0};
};

}  // namespace scrutin::pipeline

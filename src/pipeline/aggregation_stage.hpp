// AggregationStage: what a distributed-shape aggregator does with one batch of decided votes:
//   1. record it (audit rows for every status; ballots and tallies only for accepted credentials
//      not counted before) in one durable transaction; the recorder is the record and hands back
//      each vote's final decision (it corrects a validator whose ledger lost claims);
//   2. write those final decisions as the voters' statuses (GET /api/v1/vote/{id}): a voter is
//      told `accepted`, with a receipt, only once the ballot exists;
//   3. only then report success so the caller may acknowledge its input.
//
// A failure returns an error and nothing may be acknowledged: the batch is delivered again, the
// recorder counts nothing twice (see ports::VoteRecorder) and gives the same final decisions.
//
// Thread-safety: Process may be called from several threads at once (several batches in flight)
// when the recorder is thread-safe, as PostgresVoteRecorder is; otherwise one caller at a time.
#pragma once

#include <chrono>
#include <functional>
#include <span>

#include "core/ballot.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/status_writer.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::pipeline {

class AggregationStage {
 public:
  // Called after a batch was committed and its statuses written, with the final decisions
  // (metrics). Must not block; may run on several threads.
  using Listener =
      std::function<void(std::span<const core::VoteEnvelope>, std::span<const core::Decision>)>;

  // `statuses` may be null (no status store: tests of the recorder alone). Everything referenced
  // must outlive the stage. Statuses are kept until the law's close plus status_retention.
  AggregationStage(ports::VoteRecorder& recorder, ports::StatusWriter* statuses,
                   const core::Ballot& ballot, std::chrono::seconds status_retention,
                   Listener listener = {})
      : recorder_(recorder),
        statuses_(statuses),
        ballot_(ballot),
        status_retention_(status_retention),
        listener_(std::move(listener)) {}

  // Success: the batch is durable, decisions[i] is votes[i]'s final decision (as recorded) and
  // the voter's status says so; the batch may be acknowledged. Error: a pending decision in the
  // batch (a message that skipped the validator; code() kRefused), the recorder's failure with its
  // code (kUnavailable: redeliver later; kRefused/kCorrupt: redelivery will not help), or the
  // status store's (kUnavailable: the batch is recorded, redelivering it writes the same
  // statuses). REQUIRES: decisions.size() == votes.size().
  core::Status Process(std::span<const core::VoteEnvelope> votes,
                       std::span<core::Decision> decisions);

 private:
  ports::VoteRecorder& recorder_;
  ports::StatusWriter* const statuses_;
  const core::Ballot& ballot_;
  const std::chrono::seconds status_retention_;
  Listener listener_;
};

}  // namespace scrutin::pipeline

// AggregationStage: what a distributed-shape aggregator does with one batch of decided votes:
// record it (audit rows for every status; ballots and tallies only for accepted credentials not
// counted before) in one durable transaction, and only then report success so the caller may
// acknowledge its input.
//
// A failure returns an error and nothing may be acknowledged: the batch is delivered again, and
// the recorder counts nothing twice (see ports::VoteRecorder).
//
// Thread-safety: Process may be called from several threads at once (several batches in flight)
// when the recorder is thread-safe, as PostgresVoteRecorder is; otherwise one caller at a time.
#pragma once

#include <functional>
#include <span>

#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::pipeline {

class AggregationStage {
 public:
  // Called after a batch was committed (metrics). Must not block; may run on several threads.
  using Listener =
      std::function<void(std::span<const core::VoteEnvelope>, std::span<const core::Decision>)>;

  explicit AggregationStage(ports::VoteRecorder& recorder, Listener listener = {})
      : recorder_(recorder), listener_(std::move(listener)) {}

  // Success: the batch is durable and may be acknowledged. Error: a pending decision in the batch
  // (a message that skipped the validator; code() kRefused), or the recorder's failure with the
  // recorder's code (kUnavailable: redeliver later; kRefused/kCorrupt: redelivery will not help).
  // REQUIRES: decisions.size() == votes.size().
  core::Status Process(std::span<const core::VoteEnvelope> votes,
                       std::span<const core::Decision> decisions);

 private:
  ports::VoteRecorder& recorder_;
  Listener listener_;
};

}  // namespace scrutin::pipeline

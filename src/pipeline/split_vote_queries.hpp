// SplitVoteQueries: the distributed api's read side, put together from two stores — request
// statuses from one (Redis, written by the api and the aggregators) and tallies and receipts from
// another (PostgreSQL, written by the aggregators' mixers).
#pragma once

#include "ports/vote_queries.hpp"

namespace scrutin::pipeline {

class SplitVoteQueries final : public ports::VoteQueries {
 public:
  // Both must outlive this object.
  SplitVoteQueries(ports::VoteQueries& statuses, ports::VoteQueries& tallies)
      : statuses_(statuses), tallies_(tallies) {}

  // From `statuses`. Thread-safe if it is.
  core::Result<std::optional<ports::StatusRecord>> FindStatus(const core::RequestId& id) override {
    return statuses_.FindStatus(id);
  }
  // From `tallies`. Thread-safe if it is.
  core::Result<ports::Tally> FindTally(const std::string& law_id) override {
    return tallies_.FindTally(law_id);
  }
  core::Result<std::vector<ports::Tally>> FindTallies(
      const std::vector<std::string>& law_ids) override {
    return tallies_.FindTallies(law_ids);
  }
  // From `tallies` (the mixer writes receipts beside the tallies). Thread-safe if it is.
  core::Result<std::optional<std::string>> FindReceipt(const std::string& receipt) override {
    return tallies_.FindReceipt(receipt);
  }
  core::Result<std::optional<core::PublishedRecord>> FindRecord(
      const std::string& law_id) override {
    return tallies_.FindRecord(law_id);
  }

 private:
  ports::VoteQueries& statuses_;
  ports::VoteQueries& tallies_;
};

}  // namespace scrutin::pipeline

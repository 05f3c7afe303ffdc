// PostgresVoteQueries: the read side of the distributed shape's API over PostgreSQL — tallies
// from vote_results (what GET /api/v1/results/{law_id} serves) and request statuses from
// request_status (the API reads statuses from Redis; this serves audits and a fallback).
#pragma once

#include <optional>
#include <string>

#include "adapters/postgres/pg_pool.hpp"
#include "core/result.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::postgres {

class PostgresVoteQueries final : public ports::VoteQueries {
 public:
  explicit PostgresVoteQueries(PgPoolPtr pool) : pool_(std::move(pool)) {}

  // The status recorded by the aggregator for this request; nullopt when unknown or expired.
  // Error when PostgreSQL cannot be read. Thread-safe.
  core::Result<std::optional<ports::StatusRecord>> FindStatus(const core::RequestId& id) override;

  // The law's tally; zeroes (and updated_at at the epoch) when the law has no row. Error when
  // PostgreSQL cannot be read. Thread-safe.
  core::Result<ports::Tally> FindTally(const std::string& law_id) override;
  core::Result<std::optional<std::string>> FindReceipt(const std::string& receipt) override;
  core::Result<std::optional<core::PublishedRecord>> FindRecord(
      const std::string& law_id) override;

  // Every law's tally in one query (zeroes for a law without a row). Error when PostgreSQL cannot
  // be read. Thread-safe.
  core::Result<std::vector<ports::Tally>> FindTallies(
      const std::vector<std::string>& law_ids) override;

 private:
  PgPoolPtr pool_;
};

}  // namespace scrutin::postgres

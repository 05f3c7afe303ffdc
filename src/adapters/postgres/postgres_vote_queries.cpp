#include "adapters/postgres/postgres_vote_queries.hpp"

#include <array>

namespace scrutin::postgres {
namespace {

using Params = std::array<std::optional<std::string>, 1>;

// One read, retried once on a fresh connection when the pooled one turns out to be dead (a
// server restart leaves every idle connection broken; the first reader should not fail for it).
core::Result<PgResult> ReadOnce(PgPool& pool, std::string_view sql, const Params& params,
                                std::string_view what) {
  core::Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto lease = pool.Acquire(/*verify=*/attempt > 0);
    if (!lease) return core::Fail(lease.code(), std::string(what) + ": " + lease.error());
    auto res = (*lease)->Exec(sql, params);
    if (res) return std::move(*res);
    last = ToStatus(what, res.error());
    if (!res.error().connection_lost) break;
    lease->Discard();
  }
  return core::Fail(last.code(), last.error());
}

}  // namespace

core::Result<std::optional<ports::StatusRecord>> PostgresVoteQueries::FindStatus(
    const core::RequestId& id) {
  auto res = ReadOnce(*pool_,
                      "SELECT law_id, status, attempt_count FROM request_status "
                      "WHERE status_key = $1 AND expires_at > now()",
                      Params{core::StatusKey(id)}, "cannot read the vote status");
  if (!res) return core::Fail(res.code(), res.error());
  if (res->rows() == 0) return std::optional<ports::StatusRecord>();
  ports::StatusRecord rec;
  rec.law_id = std::string(res->Text(0, 0));
  rec.status = core::ParseVoteStatus(res->Text(0, 1)).value_or(core::VoteStatus::kPending);
  rec.attempt_count = static_cast<std::uint32_t>(res->Int(0, 2));
  return std::optional<ports::StatusRecord>(std::move(rec));
}

core::Result<std::optional<std::string>> PostgresVoteQueries::FindReceipt(
    const std::string& receipt) {
  auto res = ReadOnce(*pool_, "SELECT law_id FROM receipts WHERE receipt = $1", Params{receipt},
                      "cannot read the receipts");
  if (!res) return core::Fail(res.code(), res.error());
  if (res->rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(res->Text(0, 0)));
}

core::Result<std::optional<core::PublishedRecord>> PostgresVoteQueries::FindRecord(
    const std::string& law_id) {
  auto res = ReadOnce(*pool_, "SELECT record, receipts FROM records WHERE law_id = $1",
                      Params{law_id}, "cannot read the record");
  if (!res) return core::Fail(res.code(), res.error());
  if (res->rows() == 0) return std::optional<core::PublishedRecord>();
  return std::optional<core::PublishedRecord>(
      core::PublishedRecord{std::string(res->Text(0, 0)), std::string(res->Text(0, 1))});
}

core::Result<ports::Tally> PostgresVoteQueries::FindTally(const std::string& law_id) {
  auto res = ReadOnce(*pool_,
                      "SELECT oui_count, non_count, "
                      "(extract(epoch FROM updated_at) * 1000000)::bigint, "
                      "(SELECT count(*) FROM sealed_ballots s WHERE s.law_id = r.law_id) "
                      "FROM vote_results r WHERE law_id = $1",
                      Params{law_id}, "cannot read the results");
  if (!res) return core::Fail(res.code(), res.error());
  ports::Tally tally;
  tally.law_id = law_id;
  if (res->rows() > 0) {
    tally.oui = static_cast<std::uint64_t>(res->Int(0, 0));
    tally.non = static_cast<std::uint64_t>(res->Int(0, 1));
    tally.updated_at = core::Timestamp(std::chrono::duration_cast<core::Timestamp::duration>(
        std::chrono::microseconds(res->Int(0, 2))));
    tally.sealed = static_cast<std::uint64_t>(res->Int(0, 3));
  }
  return tally;
}

core::Result<std::vector<ports::Tally>> PostgresVoteQueries::FindTallies(
    const std::vector<std::string>& law_ids) {
  // A text[] literal of the ids, each double-quoted (with " and \ escaped).
  std::string ids = "{";
  for (std::size_t i = 0; i < law_ids.size(); ++i) {
    if (i) ids += ',';
    ids += '"';
    for (char c : law_ids[i]) {
      if (c == '"' || c == '\\') ids += '\\';
      ids += c;
    }
    ids += '"';
  }
  ids += '}';
  auto res = ReadOnce(*pool_,
                      "SELECT law_id, oui_count, non_count, "
                      "(extract(epoch FROM updated_at) * 1000000)::bigint, "
                      "(SELECT count(*) FROM sealed_ballots s WHERE s.law_id = r.law_id) "
                      "FROM vote_results r WHERE law_id = ANY($1::text[])",
                      Params{ids}, "cannot read the results");
  if (!res) return core::Fail(res.code(), res.error());
  std::vector<ports::Tally> out(law_ids.size());
  for (std::size_t i = 0; i < law_ids.size(); ++i) out[i].law_id = law_ids[i];
  for (int row = 0; row < res->rows(); ++row) {
    const std::string_view law = res->Text(row, 0);
    for (auto& tally : out) {
      if (tally.law_id != law) continue;
      tally.oui = static_cast<std::uint64_t>(res->Int(row, 1));
      tally.non = static_cast<std::uint64_t>(res->Int(row, 2));
      tally.updated_at = core::Timestamp(std::chrono::duration_cast<core::Timestamp::duration>(
          std::chrono::microseconds(res->Int(row, 3))));
      tally.sealed = static_cast<std::uint64_t>(res->Int(row, 4));
    }
  }
  return out;
}

}  // namespace scrutin::postgres

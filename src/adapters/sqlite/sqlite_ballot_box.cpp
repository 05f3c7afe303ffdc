#include "adapters/sqlite/sqlite_ballot_box.hpp"

#include <algorithm>
#include <vector>

namespace scrutin::adapters::sqlite {

core::Status SqliteBallotBox::Prepare() {
  for (std::string_view pragma : {"PRAGMA synchronous = NORMAL", "PRAGMA secure_delete = ON"}) {
    if (auto st = conn_.Exec(pragma); !st) return st;
  }
  struct {
    Statement* stmt;
    std::string_view sql;
  } all[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&begin_read_, "BEGIN"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&count_, "SELECT count(*) FROM sealed_ballots WHERE law_id = ?1"},
      {&take_, "SELECT id, sealed FROM sealed_ballots WHERE law_id = ?1 ORDER BY id LIMIT ?2"},
      {&ballot_, "INSERT INTO ballots (law_id, choice) VALUES (?1, ?2)"},
      {&receipt_, "INSERT INTO receipts (receipt, law_id) VALUES (?1, ?2)"},
      {&delete_, "DELETE FROM sealed_ballots WHERE law_id = ?1 AND id <= ?2"},
      {&tally_,
       "UPDATE vote_results SET oui_count = oui_count + ?2, non_count = non_count + ?3, "
       "smallest_group = CASE WHEN groups = 0 THEN ?4 ELSE min(smallest_group, ?4) END, "
       "groups = groups + 1, updated_at = ?5 WHERE law_id = ?1"},
      {&counts_,
       "SELECT (SELECT count(*) FROM sealed_ballots WHERE law_id = ?1), "
       "(SELECT count(*) FROM ballots WHERE law_id = ?1), "
       "(SELECT count(*) FROM receipts WHERE law_id = ?1), "
       "coalesce((SELECT groups FROM vote_results WHERE law_id = ?1), 0), "
       "coalesce((SELECT smallest_group FROM vote_results WHERE law_id = ?1), 0)"},
      {&has_record_, "SELECT count(*) FROM records WHERE law_id = ?1"},
      {&find_record_, "SELECT record, receipts FROM records WHERE law_id = ?1"},
      // Not when the admin port moved the close elsewhere since the mixer looked.
      {&save_record_,
       "INSERT INTO records (law_id, record, receipts) SELECT ?1, ?2, ?3 WHERE NOT EXISTS "
       "(SELECT 1 FROM law_schedule WHERE law_id = ?1 AND closes_at <> ?4) "
       "ON CONFLICT (law_id) DO NOTHING"},
      // Each count from its own table: statuses, claims (the accepted audit rows), ballots,
      // receipts, the tally.
      {&record_counts_,
       "SELECT (SELECT count(*) FROM request_status WHERE law_id = ?1 AND status = 'accepted'), "
       "(SELECT count(*) FROM accepted_credentials WHERE law_id = ?1), "
       "(SELECT count(*) FROM ballots WHERE law_id = ?1), "
       "(SELECT count(*) FROM receipts WHERE law_id = ?1), "
       "coalesce((SELECT oui_count FROM vote_results WHERE law_id = ?1), 0), "
       "coalesce((SELECT non_count FROM vote_results WHERE law_id = ?1), 0)"},
      {&law_receipts_, "SELECT receipt FROM receipts WHERE law_id = ?1 ORDER BY receipt"},
  };
  for (auto& s : all) {
    auto st = conn_.Prepare(s.sql);
    if (!st) return core::Fail(st.code(), st.error());
    *s.stmt = std::move(*st);
  }
  return {};
}

core::Result<ports::MixResult> SqliteBallotBox::Mix(const std::string& law_id,
                                                    ports::MixRule rule, const Opener& open) {
  if (auto st = begin_.Run(); !st) return core::Fail(st.code(), "cannot mix ballots: " + st.error());
  auto mixed = MixInTransaction(law_id, rule, open);
  core::Status st;
  if (mixed && mixed->mixed > 0) st = commit_.Run();
  if (!mixed || mixed->mixed == 0 || !st) (void)rollback_.Run();  // harmless after a failed COMMIT
  if (!mixed) return core::Fail(mixed.code(), mixed.error());
  if (!st) return core::Fail(st.code(), "cannot mix ballots: " + st.error());
  return *mixed;
}

core::Result<ports::MixResult> SqliteBallotBox::MixInTransaction(const std::string& law_id,
                                                                 ports::MixRule rule,
                                                                 const Opener& open) {
  has_record_.Bind(1, law_id);
  auto sealed_record = has_record_.Step();
  const bool has_record = sealed_record && *sealed_record && has_record_.Int(0) > 0;
  has_record_.Reset();
  if (!sealed_record) return core::Fail(sealed_record.code(), "cannot mix ballots: " + sealed_record.error());
  if (has_record) return ports::MixResult{.record_sealed = true};
  count_.Bind(1, law_id);
  auto row = count_.Step();
  const auto waiting = row && *row ? static_cast<std::size_t>(count_.Int(0)) : 0;
  count_.Reset();
  if (!row) return core::Fail(row.code(), "cannot mix ballots: " + row.error());
  const std::size_t take = ports::GroupSize(rule, waiting);
  if (take == 0) return ports::MixResult{0, waiting};

  std::vector<core::SealedBallot> sealed;
  sealed.reserve(take);
  std::int64_t last_id = 0;
  take_.Bind(1, law_id).Bind(2, static_cast<std::int64_t>(take));
  for (;;) {
    auto next = take_.Step();
    if (!next) {
      take_.Reset();
      return core::Fail(next.code(), "cannot mix ballots: " + next.error());
    }
    if (!*next) break;
    const std::string_view bytes = take_.Blob(1);
    if (bytes.size() != core::kSealedBallotSize) {
      take_.Reset();
      return core::Fail(core::ErrorCode::kCorrupt,
                        std::string("a sealed ballot in the store is not 49 bytes"));
    }
    auto& out = sealed.emplace_back();
    std::copy(bytes.begin(), bytes.end(), out.begin());
    last_id = take_.Int(0);
  }
  take_.Reset();

  auto group = open(sealed);
  if (!group) return core::Fail(group.code(), group.error());
  std::int64_t oui = 0, non = 0;
  for (core::Choice c : group->choices) {
    ++(c == core::Choice::kOui ? oui : non);
    if (auto st = ballot_.Bind(1, law_id).Bind(2, core::ToString(c)).Run(); !st) {
      return core::Fail(st.code(), "cannot mix ballots: " + st.error());
    }
  }
  for (const auto& r : group->receipts) {
    if (auto st = receipt_.Bind(1, r).Bind(2, law_id).Run(); !st) {
      return core::Fail(st.code(), "cannot mix ballots: " + st.error());
    }
  }
  if (auto st = delete_.Bind(1, law_id).Bind(2, last_id).Run(); !st) {
    return core::Fail(st.code(), "cannot mix ballots: " + st.error());
  }
  if (static_cast<std::size_t>(conn_.Changes()) != sealed.size()) {
    return core::Fail(core::ErrorCode::kCorrupt,
                      std::string("the sealed ballots changed during a mix"));
  }
  tally_.Bind(1, law_id).Bind(2, oui).Bind(3, non).Bind(4, static_cast<std::int64_t>(sealed.size()));
  if (auto st = tally_.Bind(5, core::FormatTimestamp(core::Clock::now())).Run(); !st) {
    return core::Fail(st.code(), "cannot mix ballots: " + st.error());
  }
  return ports::MixResult{sealed.size(), waiting};
}

core::Result<ports::BoxCounts> SqliteBallotBox::Counts(const std::string& law_id) {
  counts_.Bind(1, law_id);
  auto row = counts_.Step();
  ports::BoxCounts c;
  if (row && *row) {
    c.sealed = static_cast<std::uint64_t>(counts_.Int(0));
    c.ballots = static_cast<std::uint64_t>(counts_.Int(1));
    c.receipts = static_cast<std::uint64_t>(counts_.Int(2));
    c.groups = static_cast<std::uint64_t>(counts_.Int(3));
    c.smallest_group = static_cast<std::uint64_t>(counts_.Int(4));
  }
  counts_.Reset();
  if (!row) return core::Fail(row.code(), "cannot count ballots: " + row.error());
  return c;
}

core::Result<std::optional<core::PublishedRecord>> SqliteBallotBox::FindRecord(
    const std::string& law_id) {
  find_record_.Bind(1, law_id);
  auto row = find_record_.Step();
  std::optional<core::PublishedRecord> out;
  if (row && *row) {
    out = core::PublishedRecord{std::string(find_record_.Text(0)),
                                std::string(find_record_.Text(1))};
  }
  find_record_.Reset();
  if (!row) return core::Fail(row.code(), "cannot read the record: " + row.error());
  return out;
}

core::Result<ports::RecordSource> SqliteBallotBox::ReadRecordSource(const std::string& law_id) {
  // One read transaction: every count and the receipts list from the same snapshot.
  if (auto st = begin_read_.Run(); !st) {
    return core::Fail(st.code(), "cannot read the record's counts: " + st.error());
  }
  auto source = ReadRecordSourceInTransaction(law_id);
  (void)rollback_.Run();
  return source;
}

core::Result<ports::RecordSource> SqliteBallotBox::ReadRecordSourceInTransaction(
    const std::string& law_id) {
  ports::RecordSource out;
  record_counts_.Bind(1, law_id);
  auto row = record_counts_.Step();
  if (row && *row) {
    auto n = [&](int i) { return static_cast<std::uint64_t>(record_counts_.Int(i)); };
    out.counts = {.accepted = n(0), .claims = n(1), .ballots = n(2), .receipts = n(3),
                  .tallied = n(4) + n(5)};
    out.oui = n(4);
    out.non = n(5);
  }
  record_counts_.Reset();
  if (!row) return core::Fail(row.code(), "cannot read the record's counts: " + row.error());
  // Sorted by the primary key's order (BINARY: bytewise), as the record's list must be.
  law_receipts_.Bind(1, law_id);
  for (;;) {
    auto next = law_receipts_.Step();
    if (!next) {
      law_receipts_.Reset();
      return core::Fail(next.code(), "cannot read the receipts: " + next.error());
    }
    if (!*next) break;
    out.receipts_text += law_receipts_.Text(0);
    out.receipts_text += '\n';
    ++out.receipt_lines;
  }
  law_receipts_.Reset();
  return out;
}

core::Result<std::optional<core::PublishedRecord>> SqliteBallotBox::SaveRecord(
    const std::string& law_id, core::Timestamp closes_at, const core::PublishedRecord& record) {
  save_record_.Bind(1, law_id).Bind(2, record.record).Bind(3, record.receipts);
  if (auto st = save_record_.Bind(4, core::FormatTimestamp(closes_at)).Run(); !st) {
    return core::Fail(st.code(), "cannot store the record: " + st.error());
  }
  return FindRecord(law_id);  // absent: the close was moved
}

}  // namespace scrutin::adapters::sqlite

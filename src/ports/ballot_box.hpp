// BallotBox: the mixer's side of the vote store (docs/ballot-secrecy.md). The recorder writes each
// accepted vote's sealed ballot with its credential claim; the box holds them until the mixer
// opens a group of them and, in one transaction of its own, writes the plaintext ballots, the
// receipts and the tally, and deletes the sealed ones.
//
// Implementations: SqliteBallotBox (embedded) and PostgresBallotBox (aggregator); both pass the
// contract suite in ports/testing/ballot_box_contract.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/record.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::ports {

// What the mixer writes for one group: the choices and the receipts of its ballots, each list in
// its own random order (so neither a row's position nor its neighbour pairs a receipt with a
// choice).
struct OpenedGroup {
  std::vector<core::Choice> choices;
  std::vector<std::string> receipts;
};

// How many of a law's sealed ballots one mix takes: all but `keep` of them, at most `max_group`,
// and only if that makes at least `min_group`. The mixer keeps k back while a law is open (so that
// its last group, at the close, has at least k ballots too) and takes every other one that waits
// in one group (a backlog is caught up in few transactions).
struct MixRule {
  std::size_t keep = 0;
  std::size_t min_group = 1;
  std::size_t max_group = SIZE_MAX;
};

// The group a mix under `rule` takes when `waiting` ballots wait (0: no mix).
inline std::size_t GroupSize(const MixRule& rule, std::size_t waiting) {
  if (waiting <= rule.keep) return 0;
  const std::size_t n = std::min(waiting - rule.keep, rule.max_group);
  return n >= std::max<std::size_t>(rule.min_group, 1) ? n : 0;
}

// What one Mix() did: how many ballots it mixed, out of how many were waiting when it looked.
struct MixResult {
  std::size_t mixed = 0;
  std::size_t waiting = 0;  // before the mix; waiting - mixed remain
  // The law's record is sealed: nothing is mixed any more (late ballots stay sealed, uncounted,
  // and the results say how many).
  bool record_sealed = false;
};

// What a law's record is built from, read in one consistent snapshot of the store.
struct RecordSource {
  core::Reconciliation counts;  // each from its own table
  std::uint64_t oui = 0;
  std::uint64_t non = 0;
  std::string receipts_text;  // core::ReceiptsText of the law's receipts
  std::uint64_t receipt_lines = 0;
};

// A law's counts as the box holds them (the record's reconciliation reads them).
struct BoxCounts {
  std::uint64_t sealed = 0;    // recorded, not yet mixed
  std::uint64_t ballots = 0;   // plaintext ballots written by the mixer
  std::uint64_t receipts = 0;  // receipts written by the mixer
  std::uint64_t groups = 0;    // mixes done
  std::uint64_t smallest_group = 0;  // 0 when none
};

class BallotBox {
 public:
  virtual ~BallotBox() = default;

  // Opens the sealed ballots it is given (the mixer's part: it holds the ballot key and shuffles).
  // An error leaves the store unchanged.
  using Opener =
      std::function<core::Result<OpenedGroup>(std::span<const core::SealedBallot> sealed)>;

  // One mix, in one transaction of its own: takes the GroupSize(rule, waiting) oldest sealed
  // ballots of `law_id` (none: nothing changes; nor when the law's record is sealed), hands them to `open`, writes what it returns (ballots and receipts in the order
  // given, the tally moved by the group's counts) and deletes the sealed ballots; then commits.
  // Returns how many ballots were mixed (0: the rule did not allow a mix, nothing changed) and
  // how many were waiting.
  // All or nothing: a crash or an error anywhere leaves every sealed ballot waiting and nothing
  // written, so a later mix takes them again (exactly once). Concurrent mixers of the same law
  // (several aggregators) are serialised by the store, so the rule holds across them.
  // Errors: kUnavailable (store unreachable or busy: retry later), kCorrupt (a sealed ballot that
  // does not open, a schema this binary does not know), or open's error.
  // Thread-safety: one caller per instance. Blocking: the disk or the network; never called from
  // an HTTP thread.
  virtual core::Result<MixResult> Mix(const std::string& law_id, MixRule rule,
                                      const Opener& open) = 0;

  // The law's counts. Thread-safety and blocking: as Mix.
  virtual core::Result<BoxCounts> Counts(const std::string& law_id) = 0;

  // The law's record: nullopt while none is sealed. Thread-safety and blocking: as Mix.
  virtual core::Result<std::optional<core::PublishedRecord>> FindRecord(
      const std::string& law_id) = 0;

  // Everything the law's record states, read in one snapshot: the tally, the reconciliation's
  // counts (accepted statuses, claims, ballots, receipts, the tally's total) and the receipts list.
  // Thread-safety and blocking: as Mix (the receipts list of a whole electorate is read).
  virtual core::Result<RecordSource> ReadRecordSource(const std::string& law_id) = 0;

  // Stores the law's record, built for a law closing at `closes_at`, unless one is stored already
  // (several mixers may race at the close: the first one wins), and returns the one stored.
  // nullopt, nothing stored, when the law's closing time was moved to another time on the admin
  // port (a LawSchedule in the same store) since the mixer looked: the record would describe a
  // window that is no longer the law's. Once a record is stored, Mix() never mixes that law again
  // and LawSchedule::Set refuses to move its close. Thread-safety and blocking: as Mix.
  virtual core::Result<std::optional<core::PublishedRecord>> SaveRecord(
      const std::string& law_id, core::Timestamp closes_at,
      const core::PublishedRecord& record) = 0;
};

using BallotBoxPtr = std::unique_ptr<BallotBox>;

}  // namespace scrutin::ports

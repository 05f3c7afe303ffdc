// Mixer: opens sealed ballots only in shuffled groups of at least k and counts them
// (docs/ballot-secrecy.md). It is the only holder of the ballot key downstream of the api: a
// thread of `serve` in the embedded shape, of each aggregator in the distributed one.
//
// The rule, per law:
//   - while the law is open, whenever at least 2k sealed ballots wait, all but k of them are mixed
//     as one group (at least k, at most kMaxGroup), so k always stay behind (with k = 1 nothing is
//     kept back: a group of one is all k asks for);
//   - once the law has been closed for `settle` (time for votes already answered 202 to reach the
//     store), everything that waits is mixed as the last group: between k and 2k-1 ballots, or all
//     of them when the whole law had fewer than k;
//   - right after that last group, the law's record is sealed (with a record key configured): the
//     tally, the reconciliation and the receipts list read from the box in one snapshot, signed
//     (core/record.hpp), stored once (the first of several mixers wins); from then on the law is
//     never mixed again, so the published record and receipts list never change;
//   - a ballot recorded after the record (a vote the pipeline held longer than `settle`) stays
//     sealed and uncounted: the results show it as uncounted, the record's reconciliation (if it
//     was claimed before the seal) as a difference. Without a record key, such a ballot is mixed
//     in a late group of its own, which BoxCounts::smallest_group shows.
// Each group is opened with the ballot key, its choices and its receipts are shuffled separately
// (a CSPRNG Fisher-Yates), and the box writes them in a transaction that holds no claim, so a store
// reader sees a choice only as one of a group of at least k.
//
// Thread-safety: every method is thread-safe; rounds never overlap (RunOnce holds a lock).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "core/ballot.hpp"
#include "core/mutex.hpp"
#include "core/record.hpp"
#include "core/result.hpp"
#include "core/sealed_ballot.hpp"
#include "ports/ballot_box.hpp"

namespace scrutin::pipeline {

inline constexpr std::size_t kDefaultMixSize = 100;
// The largest group one transaction opens while a law is open (a backlog is caught up in groups
// of up to this many; at the close the rest is one group, whatever its size).
inline constexpr std::size_t kMaxGroup = 10000;

struct MixerOptions {
  std::size_t group_size = kDefaultMixSize;  // k, at least 1
  // How long after a law's close the last group is mixed.
  std::chrono::milliseconds settle{std::chrono::seconds(5)};
  // How often the thread looks for work when nobody wakes it.
  std::chrono::milliseconds interval{std::chrono::seconds(1)};
  // The wall clock; empty: the system clock.
  std::function<core::Timestamp()> clock;
  // Called after each group mixed (law, size), from the mixer's thread.
  std::function<void(const std::string& law_id, std::size_t size)> on_group;
  // Signs each closed law's record; empty: no records are sealed (tests of the mixing alone).
  std::shared_ptr<const core::RecordSigner> record_signer;
  // Called once per law when its record is sealed (or found sealed by another mixer), from the
  // mixer's thread.
  std::function<void(const std::string& law_id, const core::PublishedRecord& record)> on_record;
  // Called when a round fails (the error names the law), from the mixer's thread; the thread
  // retries at the next interval.
  std::function<void(core::ErrorCode code, const std::string& error)> on_error;
};

class Mixer {
 public:
  // Everything referenced must outlive the Mixer.
  Mixer(const core::Ballot& ballot, core::BallotSealer sealer, ports::BallotBox& box,
        MixerOptions options);
  ~Mixer();  // Stop()
  Mixer(const Mixer&) = delete;
  Mixer& operator=(const Mixer&) = delete;

  // One round over every law: mixes every group the rule allows now. Returns how many ballots were
  // mixed; an error stops the round at the law that failed (the others are tried next round).
  core::Result<std::size_t> RunOnce() EXCLUDES(run_mu_);
  // RunOnce on the caller's thread, its error reported to on_error.
  void RunNow() EXCLUDES(run_mu_);

  // For a caller that records every vote itself (the embedded writer): `n` more ballots of
  // `law_id` are sealed in the box. RunIfDue then runs a round only when a law may have a group
  // due (its count is not known yet, reaches take + keep, or it has closed), and saves the store
  // a transaction per batch otherwise; it reports errors to on_error.
  void Recorded(const std::string& law_id, std::size_t n) EXCLUDES(run_mu_);
  void RunIfDue() EXCLUDES(run_mu_);

  // The background thread: a round every interval, and at once after Wake().
  void Start();
  void Stop();  // waits for a round in progress; idempotent
  // Asks for a round soon (a recorder calls it after each commit). Never blocks on the store.
  void Wake();

  // Opens and shuffles one group (what the box's Opener does). Public for tests.
  core::Result<ports::OpenedGroup> Open(const std::string& law_id,
                                        std::span<const core::SealedBallot> sealed) const;

 private:
  void Loop();
  core::Result<std::size_t> RunLocked() REQUIRES(run_mu_);
  core::Status SealRecord(const core::Law& law, core::Timestamp now) REQUIRES(run_mu_);
  void Report(const core::Result<std::size_t>& round);

  const core::Ballot& ballot_;
  const core::BallotSealer sealer_;
  ports::BallotBox& box_;
  const MixerOptions options_;

  core::Mutex run_mu_;  // one round at a time
  // Sealed ballots waiting per law, as the last Mix() saw them plus Recorded() since; absent
  // until a Mix() looked.
  std::map<std::string, std::size_t, std::less<>> waiting_ GUARDED_BY(run_mu_);
  // Laws whose record is sealed: never mixed again.
  std::set<std::string, std::less<>> sealed_records_ GUARDED_BY(run_mu_);
  core::Mutex mu_;
  core::CondVar cv_;
  bool woken_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace scrutin::pipeline

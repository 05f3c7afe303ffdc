// FakeVoteRecorder: an in-memory record (VoteRecorder, VoteQueries over what it recorded, and the
// BallotBox of its sealed ballots) for tests of code written over the ports (pipeline), in place
// of a hand-written recorder per test file. It is the record as PostgreSQL keeps it: it holds each accepted credential for the request
// that claimed it, so it corrects decisions as the port says (an accepted vote for a credential
// held by another request is recorded as kDuplicate with the attempt count of its audit rows; a
// "duplicate" from the holding request is accepted; a request recorded before keeps its decision).
// It passes VoteRecorderContract and BallotBoxContract (ports_testing_test runs them).
//
// Knobs for the tests: fail (Record answers "disk full" with fail_code, recording nothing),
// deferred syncs (Record commits, Sync() waits until OpenSyncs() or fails with fail_sync), and
// HoldForAnother() (the store holds a credential for a request the test never sent).
// Thread-safe: Record, Sync and the queries may run on other threads than the test's.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/mutex.hpp"
#include "core/request_id.hpp"
#include "core/result.hpp"
#include "core/vote.hpp"
#include "ports/ballot_box.hpp"
#include "ports/testing/contract_votes.hpp"
#include "ports/testing/fake_law_schedule.hpp"
#include "ports/vote_queries.hpp"
#include "ports/vote_recorder.hpp"

namespace scrutin::ports::testing {

class FakeVoteRecorder : public VoteRecorder, public VoteQueries, public BallotBox {
 public:
  // `laws`: the ballot's law ids (a vote for any other law makes its batch kRefused).
  // `defer_sync`: Record() returns before the batch is durable; Sync() makes it so.
  explicit FakeVoteRecorder(std::vector<std::string> laws, bool defer_sync = false)
      : defer_sync_(defer_sync) {
    for (auto& law : laws) tallies_[law] = Tally{law, 0, 0, {}};
  }

  core::Status Record(std::span<const core::VoteEnvelope> votes,
                      std::span<core::Decision> decisions) override {
    core::MutexLock lock(mu_);
    if (fail_) return core::Fail(fail_code_, std::string("disk full"));
    for (std::size_t i = 0; i < votes.size(); ++i) {  // all or nothing: check before writing
      if (decisions[i].status == core::VoteStatus::kPending) {
        return core::Fail(core::ErrorCode::kRefused, std::string("a pending vote is not decided"));
      }
      if (!tallies_.contains(votes[i].law_id)) {
        return core::Fail(core::ErrorCode::kRefused,
                          "law " + votes[i].law_id + " is not on the ballot");
      }
    }
    for (std::size_t i = 0; i < votes.size(); ++i) decisions[i] = RecordOne(votes[i], decisions[i]);
    batches_.push_back(votes.size());
    recorded_ += votes.size();
    cv_.NotifyAll();
    return {};
  }

  bool defers_sync() const override { return defer_sync_; }

  core::Status Sync() override {
    core::MutexLock lock(mu_);
    ++syncs_started_;
    cv_.NotifyAll();
    if (!defer_sync_) return {};
    cv_.Wait(lock, [this]() REQUIRES(mu_) { return syncs_open_ || fail_sync_; });
    if (fail_sync_) return core::Fail(std::string("EIO"));
    synced_ = recorded_;
    return {};
  }

  core::Result<std::optional<StatusRecord>> FindStatus(const core::RequestId& id) override {
    core::MutexLock lock(mu_);
    auto it = statuses_.find(id.ToString());
    if (it == statuses_.end()) return std::optional<StatusRecord>();
    return std::optional<StatusRecord>(it->second);
  }

  core::Result<Tally> FindTally(const std::string& law_id) override {
    core::MutexLock lock(mu_);
    auto it = tallies_.find(law_id);
    Tally t = it == tallies_.end() ? Tally{law_id, 0, 0, {}} : it->second;
    t.sealed = sealed_[law_id].size();
    return t;
  }

  core::Result<MixResult> Mix(const std::string& law_id, MixRule rule,
                              const Opener& open) override {
    core::MutexLock lock(mu_);
    if (fail_) return core::Fail(fail_code_, std::string("disk full"));
    if (records_.contains(law_id)) return MixResult{.record_sealed = true};
    auto& waiting = sealed_[law_id];
    const std::size_t before = waiting.size();
    const std::size_t take = GroupSize(rule, before);
    if (take == 0) return MixResult{0, before};
    std::vector<core::SealedBallot> group(waiting.begin(), waiting.begin() + take);
    auto opened = open(group);
    if (!opened) return core::Fail(opened.code(), opened.error());
    waiting.erase(waiting.begin(), waiting.begin() + take);
    Tally& t = tallies_[law_id];
    for (core::Choice c : opened->choices) ++(c == core::Choice::kOui ? t.oui : t.non);
    BoxCounts& c = counts_[law_id];
    c.ballots += opened->choices.size();
    c.receipts += opened->receipts.size();
    for (const auto& r : opened->receipts) receipts_[r] = law_id;
    c.smallest_group = c.groups == 0 ? take : std::min<std::uint64_t>(c.smallest_group, take);
    ++c.groups;
    return MixResult{take, before};
  }

  core::Result<std::optional<std::string>> FindReceipt(const std::string& receipt) override {
    core::MutexLock lock(mu_);
    auto it = receipts_.find(receipt);
    if (it == receipts_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  core::Result<BoxCounts> Counts(const std::string& law_id) override {
    core::MutexLock lock(mu_);
    BoxCounts c = counts_[law_id];
    c.sealed = sealed_[law_id].size();
    return c;
  }

  core::Result<std::optional<core::PublishedRecord>> FindRecord(
      const std::string& law_id) override {
    core::MutexLock lock(mu_);
    if (fail_) return core::Fail(fail_code_, std::string("disk full"));
    auto it = records_.find(law_id);
    if (it == records_.end()) return std::optional<core::PublishedRecord>();
    return std::optional<core::PublishedRecord>(it->second);
  }

  core::Result<RecordSource> ReadRecordSource(const std::string& law_id) override {
    core::MutexLock lock(mu_);
    if (fail_) return core::Fail(fail_code_, std::string("disk full"));
    RecordSource out;
    const Tally& t = tallies_[law_id];
    const BoxCounts& c = counts_[law_id];
    for (const auto& [request, status] : statuses_) {
      if (status.law_id == law_id && status.status == core::VoteStatus::kAccepted) {
        ++out.counts.accepted;
      }
    }
    for (const auto& [key, request] : holders_) {
      if (key.starts_with(law_id + "/")) ++out.counts.claims;
    }
    out.counts.ballots = c.ballots;
    out.counts.receipts = c.receipts;
    out.counts.tallied = t.oui + t.non;
    out.oui = t.oui;
    out.non = t.non;
    std::vector<std::string> receipts;
    for (const auto& [r, law] : receipts_) {
      if (law == law_id) receipts.push_back(r);
    }
    out.receipt_lines = receipts.size();
    out.receipts_text = core::ReceiptsText(std::move(receipts));
    return out;
  }

  core::Result<std::optional<core::PublishedRecord>> SaveRecord(
      const std::string& law_id, core::Timestamp closes_at,
      const core::PublishedRecord& record) override {
    core::MutexLock lock(mu_);
    if (fail_) return core::Fail(fail_code_, std::string("disk full"));
    if (schedule_ != nullptr && !schedule_->Matches(law_id, closes_at)) {
      return std::optional<core::PublishedRecord>();
    }
    return std::optional<core::PublishedRecord>(records_.try_emplace(law_id, record).first->second);
  }

  // The schedule whose moved closes SaveRecord checks (as the real stores check their own table);
  // must outlive this fake.
  void set_schedule(const FakeLawSchedule* schedule) {
    core::MutexLock lock(mu_);
    schedule_ = schedule;
  }
  bool HasRecord(const std::string& law_id) const {
    core::MutexLock lock(mu_);
    return records_.contains(law_id);
  }

  // The store holds `digest` (for `law`) for a request the test never sent: one accepted audit
  // row and its ballot.
  void HoldForAnother(const core::Digest& digest, const std::string& law) {
    core::VoteEnvelope other;
    other.request_id = core::RequestId::Generate();
    other.digest = digest;
    other.law_id = law;
    other.ballot = TestSealer().Seal(law, core::Choice::kOui, core::Receipt(other.request_id)).value();
    core::MutexLock lock(mu_);
    RecordOne(other, core::Decision{core::VoteStatus::kAccepted, 1, false});
  }

  void set_fail(bool fail, core::ErrorCode code = core::ErrorCode::kUnavailable) {
    core::MutexLock lock(mu_);
    fail_ = fail;
    fail_code_ = code;
  }
  void set_fail_sync(bool fail) {
    core::MutexLock lock(mu_);
    fail_sync_ = fail;
    cv_.NotifyAll();
  }
  // Lets every Sync(), waiting or to come, complete.
  void OpenSyncs() {
    core::MutexLock lock(mu_);
    syncs_open_ = true;
    cv_.NotifyAll();
  }

  // Votes recorded (counting a redelivered one each time), batch sizes, Sync() calls begun, and
  // the votes recorded before the last successful deferred sync.
  std::size_t recorded() const {
    core::MutexLock lock(mu_);
    return recorded_;
  }
  std::vector<std::size_t> batches() const {
    core::MutexLock lock(mu_);
    return batches_;
  }
  int syncs_started() const {
    core::MutexLock lock(mu_);
    return syncs_started_;
  }
  std::size_t synced() const {
    core::MutexLock lock(mu_);
    return synced_;
  }
  // Block until recorded() >= n, syncs_started() >= n.
  void WaitRecorded(std::size_t n) const {
    core::MutexLock lock(mu_);
    cv_.Wait(lock, [&]() REQUIRES(mu_) { return recorded_ >= n; });
  }
  void WaitSyncsStarted(int n) const {
    core::MutexLock lock(mu_);
    cv_.Wait(lock, [&]() REQUIRES(mu_) { return syncs_started_ >= n; });
  }

 private:
  core::Decision RecordOne(const core::VoteEnvelope& vote, core::Decision d) REQUIRES(mu_) {
    const std::string request = vote.request_id.ToString();
    if (auto seen = audit_.find(request); seen != audit_.end()) return seen->second;
    const std::string key = vote.law_id + "/" + vote.digest.ToHex();
    std::uint32_t& attempts = attempts_[key];
    ++attempts;  // one audit row per request
    auto holder = holders_.find(key);
    const bool held_by_this = holder != holders_.end() && holder->second == request;
    const bool held_by_other = holder != holders_.end() && !held_by_this;
    if (d.status == core::VoteStatus::kAccepted && held_by_other) {
      d = core::Decision{core::VoteStatus::kDuplicate, attempts, false};
    } else if (d.status == core::VoteStatus::kDuplicate && held_by_this) {
      d = core::Decision{core::VoteStatus::kAccepted, 1, true};
    }
    if (d.status == core::VoteStatus::kAccepted && holder == holders_.end()) {
      holders_[key] = request;
      sealed_[vote.law_id].push_back(vote.ballot);  // counted when mixed
    }
    audit_[request] = d;
    statuses_[request] = StatusRecord{vote.law_id, d.status, d.attempt_count};
    return d;
  }

  const bool defer_sync_;
  mutable core::Mutex mu_;
  mutable core::CondVar cv_;
  bool fail_ GUARDED_BY(mu_) = false;
  core::ErrorCode fail_code_ GUARDED_BY(mu_) = core::ErrorCode::kUnavailable;
  bool fail_sync_ GUARDED_BY(mu_) = false;
  bool syncs_open_ GUARDED_BY(mu_) = false;
  std::map<std::string, Tally> tallies_ GUARDED_BY(mu_);
  std::map<std::string, core::PublishedRecord> records_ GUARDED_BY(mu_);
  const FakeLawSchedule* schedule_ GUARDED_BY(mu_) = nullptr;
  std::map<std::string, std::vector<core::SealedBallot>> sealed_ GUARDED_BY(mu_);
  std::map<std::string, BoxCounts> counts_ GUARDED_BY(mu_);
  std::map<std::string, std::string> receipts_ GUARDED_BY(mu_);  // receipt -> law, once mixed
  std::map<std::string, std::string> holders_ GUARDED_BY(mu_);     // law/digest -> request
  std::map<std::string, std::uint32_t> attempts_ GUARDED_BY(mu_);  // law/digest -> audit rows
  std::map<std::string, core::Decision> audit_ GUARDED_BY(mu_);    // request -> decision
  std::map<std::string, StatusRecord> statuses_ GUARDED_BY(mu_);
  std::vector<std::size_t> batches_ GUARDED_BY(mu_);
  std::size_t recorded_ GUARDED_BY(mu_) = 0;
  int syncs_started_ GUARDED_BY(mu_) = 0;
  std::size_t synced_ GUARDED_BY(mu_) = 0;
};

}  // namespace scrutin::ports::testing

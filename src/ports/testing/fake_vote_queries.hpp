// FakeVoteQueries: VoteQueries over statuses and tallies the test sets, for tests of the readers
// of the port (http's status and results routes, pipeline's cached tallies), in place of a
// hand-written one per test file. It counts its reads and can be down. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "core/mutex.hpp"
#include "core/request_id.hpp"
#include "core/result.hpp"
#include "ports/vote_queries.hpp"

namespace scrutin::ports::testing {

class FakeVoteQueries : public VoteQueries {
 public:
  core::Result<std::optional<StatusRecord>> FindStatus(const core::RequestId& id) override {
    ++status_reads;
    core::MutexLock lock(mu_);
    if (down_) return core::Fail(core::ErrorCode::kUnavailable, down_reason_);
    auto it = statuses_.find(id.ToString());
    if (it == statuses_.end()) return std::optional<StatusRecord>();
    return std::optional<StatusRecord>(it->second);
  }

  // A law with no tally set counts zero.
  core::Result<Tally> FindTally(const std::string& law_id) override {
    ++tally_reads;
    core::MutexLock lock(mu_);
    if (down_) return core::Fail(core::ErrorCode::kUnavailable, down_reason_);
    auto it = tallies_.find(law_id);
    if (it == tallies_.end()) return Tally{law_id, 0, 0, {}};
    return it->second;
  }

  // A receipt counts once AddReceipt() put it there.
  core::Result<std::optional<std::string>> FindReceipt(const std::string& receipt) override {
    core::MutexLock lock(mu_);
    if (down_) return core::Fail(core::ErrorCode::kUnavailable, down_reason_);
    auto it = receipts_.find(receipt);
    if (it == receipts_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  void AddReceipt(std::string receipt, std::string law_id) {
    core::MutexLock lock(mu_);
    receipts_[std::move(receipt)] = std::move(law_id);
  }
  void SetStatus(const core::RequestId& id, StatusRecord record) {
    core::MutexLock lock(mu_);
    statuses_[id.ToString()] = std::move(record);
  }
  void SetTally(Tally tally) {
    core::MutexLock lock(mu_);
    tallies_[tally.law_id] = std::move(tally);
  }
  // Every read fails kUnavailable with `reason` while down.
  void SetDown(bool down, std::string reason = "store down") {
    core::MutexLock lock(mu_);
    down_ = down;
    down_reason_ = std::move(reason);
  }

  std::atomic<int> status_reads{0};
  std::atomic<int> tally_reads{0};

 private:
  core::Mutex mu_;
  bool down_ GUARDED_BY(mu_) = false;
  std::string down_reason_ GUARDED_BY(mu_);
  std::map<std::string, StatusRecord> statuses_ GUARDED_BY(mu_);
  std::map<std::string, Tally> tallies_ GUARDED_BY(mu_);
  std::map<std::string, std::string> receipts_ GUARDED_BY(mu_);
};

}  // namespace scrutin::ports::testing

#include "pipeline/mixer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace scrutin::pipeline {

Mixer::Mixer(const core::Ballot& ballot, core::BallotSealer sealer, ports::BallotBox& box,
             MixerOptions options)
    : ballot_(ballot), sealer_(std::move(sealer)), box_(box), options_(std::move(options)) {}

Mixer::~Mixer() { Stop(); }

core::Result<ports::OpenedGroup> Mixer::Open(const std::string& law_id,
                                             std::span<const core::SealedBallot> sealed) const {
  ports::OpenedGroup group;
  group.choices.reserve(sealed.size());
  group.receipts.reserve(sealed.size());
  for (const auto& s : sealed) {
    auto opened = sealer_.Open(law_id, s);
    if (!opened) {
      // Nothing is written and every ballot stays sealed: a wrong ballot key must stop the count
      // and be fixed by the operator, never make ballots disappear.
      return core::Fail(core::ErrorCode::kCorrupt,
                        fmt::format("a sealed ballot of law {} does not open with this ballot key "
                                    "(another election's key, or a damaged store): {}",
                                    law_id, opened.error()));
    }
    group.choices.push_back(opened->choice);
    group.receipts.push_back(std::move(opened->receipt));
  }
  // Two independent orders: the i-th choice and the i-th receipt belong to different ballots.
  if (!core::SecureShuffle(std::span(group.choices)) ||
      !core::SecureShuffle(std::span(group.receipts))) {
    return core::Fail(std::string("no random bytes to shuffle a group of ballots"));
  }
  return group;
}

void Mixer::Report(const core::Result<std::size_t>& round) {
  if (!round && options_.on_error) options_.on_error(round.code(), round.error());
}

void Mixer::RunNow() { Report(RunOnce()); }

core::Result<std::size_t> Mixer::RunOnce() {
  core::MutexLock round(run_mu_);
  return RunLocked();
}

void Mixer::Recorded(const std::string& law_id, std::size_t n) {
  core::MutexLock round(run_mu_);
  auto it = waiting_.find(law_id);
  if (it != waiting_.end()) it->second += n;
}

void Mixer::RunIfDue() {
  core::MutexLock round(run_mu_);
  const core::Timestamp now = options_.clock ? options_.clock() : core::Clock::now();
  const std::size_t k = std::max<std::size_t>(options_.group_size, 1);
  const std::size_t due_at = k > 1 ? 2 * k : 1;
  bool due = false;
  for (const core::Law& law : ballot_.laws()) {
    if (sealed_records_.contains(law.id)) continue;
    const bool settled = now >= law.ClosesAt() + options_.settle;
    auto it = waiting_.find(law.id);
    due |= it == waiting_.end() || it->second >= due_at || (settled && it->second > 0) ||
           (settled && options_.record_signer);
  }
  if (due) Report(RunLocked());
}

core::Result<std::size_t> Mixer::RunLocked() {
  const core::Timestamp now = options_.clock ? options_.clock() : core::Clock::now();
  const std::size_t k = std::max<std::size_t>(options_.group_size, 1);
  std::size_t mixed = 0;
  for (const core::Law& law : ballot_.laws()) {
    if (sealed_records_.contains(law.id)) continue;
    auto open = [&](std::span<const core::SealedBallot> sealed) { return Open(law.id, sealed); };
    // The last group (and any late one) once the law has been closed for `settle`; groups of k
    // keeping k back before that.
    const bool last = now >= law.ClosesAt() + options_.settle;
    // Open: everything but k, in one group of at least k (at most kMaxGroup). Last: everything.
    const ports::MixRule rule =
        last ? ports::MixRule{}
             : ports::MixRule{.keep = k > 1 ? k : 0, .min_group = k, .max_group = kMaxGroup};
    for (;;) {
      auto r = box_.Mix(law.id, rule, open);
      if (!r) {
        waiting_.erase(law.id);  // unknown again: the next round asks the store
        return core::Fail(r.code(), fmt::format("cannot mix law {}: {}", law.id, r.error()));
      }
      if (r->record_sealed) {
        sealed_records_.insert(law.id);
        waiting_.erase(law.id);
        break;
      }
      waiting_[law.id] = r->waiting - r->mixed;
      if (r->mixed == 0) break;
      mixed += r->mixed;
      if (options_.on_group) options_.on_group(law.id, r->mixed);
      if (last) break;
    }
    if (last && options_.record_signer && !sealed_records_.contains(law.id)) {
      if (auto st = SealRecord(law, now); !st) return core::Fail(st.code(), st.error());
    }
  }
  return mixed;
}

core::Status Mixer::SealRecord(const core::Law& law, core::Timestamp now) {
  auto source = box_.ReadRecordSource(law.id);
  if (!source) {
    return core::Fail(source.code(),
                      fmt::format("cannot seal the record of law {}: {}", law.id, source.error()));
  }
  core::RecordContent content;
  content.law_id = law.id;
  content.opens_at = law.opens_at;
  content.closes_at = law.ClosesAt();
  content.sealed_at = now;
  content.oui = source->oui;
  content.non = source->non;
  content.reconciliation = source->counts;
  content.receipt_count = source->receipt_lines;
  content.receipts_sha256 = core::Sha256Hex(source->receipts_text);
  auto signed_record = core::SignedRecord(content, *options_.record_signer);
  if (!signed_record) {
    return core::Fail(fmt::format("cannot sign the record of law {}: {}", law.id,
                                  signed_record.error()));
  }
  auto stored = box_.SaveRecord(
      law.id, content.closes_at,
      core::PublishedRecord{core::CanonicalJson(*signed_record), std::move(source->receipts_text)});
  if (!stored) {
    return core::Fail(stored.code(),
                      fmt::format("cannot store the record of law {}: {}", law.id, stored.error()));
  }
  // Not stored: the admin port moved the close since this round read it (an extension reopened
  // the law); the next round, with the ballot refreshed, sees the new close.
  if (!stored->has_value()) return {};
  sealed_records_.insert(law.id);
  waiting_.erase(law.id);
  if (options_.on_record) options_.on_record(law.id, **stored);
  return {};
}

void Mixer::Start() {
  core::MutexLock lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Mixer::Stop() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void Mixer::Wake() {
  {
    core::MutexLock lock(mu_);
    woken_ = true;
  }
  cv_.NotifyOne();
}

void Mixer::Loop() {
  for (;;) {
    {
      core::MutexLock lock(mu_);
      cv_.WaitFor(lock, options_.interval, [&]() REQUIRES(mu_) { return woken_ || stopping_; });
      if (stopping_) return;
      woken_ = false;
    }
    RunNow();
  }
}

}  // namespace scrutin::pipeline

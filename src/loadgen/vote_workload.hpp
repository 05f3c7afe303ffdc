// The vote load itself: what every engine thread of a vote run shares (VoteRun) and the workload
// each thread runs (VoteWorkload: picks the next request of the mix, records each answer into
// the electorate's ground truth). Internal to loadgen.
//
// Threading: one VoteWorkload per engine thread, called only from that thread; the shared
// VoteRun hands out fresh registry rows through the atomic next_valid. Its public counters are
// read after the engine has stopped.
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/vote.hpp"
#include "loadgen/electorate.hpp"
#include "loadgen/http_engine.hpp"
#include "loadgen/load_run.hpp"
#include "loadgen/vote_requests.hpp"

namespace scrutin::loadgen {

inline std::uint64_t SplitMix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A 202 answered "pending": its request id, polled by the verification.
struct Pending {
  std::array<char, 36> id;
  std::uint32_t cred;  // pool index (valid/duplicate); unused for invalid
  std::uint8_t kind;
};

// What every thread of a vote run shares. The pool entries are partitioned by ownership (see
// PoolEntry); next_valid hands out fresh rows.
struct VoteRun {
  const LoadOptions& options;
  Electorate& electorate;
  std::vector<Target> targets;  // LoadOptions::targets, parsed; the verification starts with [0]
  std::string post_head;        // carries targets[0]'s Host header
  std::atomic<std::uint64_t> next_valid{0};
};

class VoteWorkload final : public Workload {
 public:
  VoteWorkload(VoteRun& run, unsigned thread)
      : run_(run), rng_(SplitMix(run.options.seed * 1'000'003 + thread)) {
    body_.reserve(256);
  }

  bool Prepare(RequestSlot& slot) override {
    auto& pool = run_.electorate.pool;
    RequestKind kind = run_.options.mix.Pick(Uniform());
    if (kind == RequestKind::kDuplicate && used_.empty()) kind = RequestKind::kValid;
    body_.clear();
    CredentialText text;
    std::uint8_t choice = 0;
    switch (kind) {
      case RequestKind::kValid: {
        const std::uint64_t idx = run_.next_valid.fetch_add(1, std::memory_order_relaxed);
        if (idx >= pool.size()) {
          exhausted_ = true;
          return false;
        }
        PoolEntry& e = pool[idx];
        e.choice = static_cast<std::uint8_t>(rng_() & 1);
        e.flags |= kSent;
        choice = e.choice;
        Text(e, text);
        AppendVoteBody(body_, text, run_.electorate.laws[e.law], static_cast<core::Choice>(choice),
                       Style());
        slot.tag = idx;
        break;
      }
      case RequestKind::kDuplicate: {
        const std::uint32_t idx = used_[rng_() % used_.size()];
        const PoolEntry& e = pool[idx];
        choice = (e.flags & kAcceptedAt202) ? static_cast<std::uint8_t>(rng_() & 1) : e.choice;
        Text(e, text);
        AppendVoteBody(body_, text, run_.electorate.laws[e.law], static_cast<core::Choice>(choice),
                       Style());
        slot.tag = idx;
        break;
      }
      case RequestKind::kInvalid:
        Unregistered(text);
        choice = static_cast<std::uint8_t>(rng_() & 1);
        AppendVoteBody(body_, text, RandomLaw(), static_cast<core::Choice>(choice), Style());
        break;
      case RequestKind::kMalformed:
        Unregistered(text);
        AppendMalformedBody(body_, static_cast<int>(rng_() % kMalformedVariants), text,
                            RandomLaw());
        break;
    }
    slot.tag2 = static_cast<std::uint32_t>(kind) | (static_cast<std::uint32_t>(choice) << 8);
    ++sent[static_cast<std::size_t>(kind)];
    AssemblePost(slot.bytes, run_.post_head, body_);
    return true;
  }

  void OnResponse(const RequestSlot& slot, int status, std::string_view body) override {
    const auto kind = static_cast<RequestKind>(slot.tag2 & 0xff);
    const auto k = static_cast<std::size_t>(kind);
    ++status_by_kind[k][status > 0 && status < 600 ? status : 0];
    if (status >= 500 && (kind == RequestKind::kValid || kind == RequestKind::kDuplicate)) {
      // A 5xx promises nothing either way: a broker that stored the vote and died before
      // confirming it leaves the api answering 503 for a vote that counts (docs/openapi.yaml,
      // Unavailable). Like no answer at all, the credential's outcome is unknown.
      run_.electorate.pool[slot.tag].flags |= kUnknown;
      return;
    }
    if (status != 202 || kind == RequestKind::kMalformed) return;
    PoolEntry* e = kind == RequestKind::kInvalid ? nullptr : &run_.electorate.pool[slot.tag];
    const auto word = FindJsonString(body, "status");
    const auto parsed = word ? core::ParseVoteStatus(*word) : std::nullopt;
    const auto id = FindJsonString(body, "request_id");
    // value_or, not *parsed: GCC 12 under -fsanitize=thread sees the optional's engaged byte as
    // maybe-uninitialized after the early return (a false positive, an error with -Werror).
    const core::VoteStatus st = parsed.value_or(core::VoteStatus::kPending);
    if (!parsed || (st == core::VoteStatus::kPending && (!id || id->size() != 36))) {
      ++unreadable_202;
      if (e != nullptr) e->flags |= kUnknown;
      return;
    }
    ++status_in_202[static_cast<std::size_t>(st)];
    if (st == core::VoteStatus::kPending && run_.options.verify) {
      Pending p;
      std::copy_n(id->begin(), 36, p.id.begin());
      p.cred = static_cast<std::uint32_t>(slot.tag);
      p.kind = static_cast<std::uint8_t>(kind);
      pending.push_back(p);
    }
    if (e == nullptr) {
      if (st != core::VoteStatus::kPending && st != core::VoteStatus::kInvalid) {
        ++invalid_not_invalid;
      }
      return;
    }
    if (!(e->flags & kGot202)) {
      e->flags |= kGot202;
      used_.push_back(static_cast<std::uint32_t>(slot.tag));
    }
    if (st == core::VoteStatus::kAccepted) {
      if (e->accepted < 255) ++e->accepted;
      if (kind == RequestKind::kValid) e->flags |= kAcceptedAt202;
    }
  }

  void OnFailure(const RequestSlot& slot, Failure) override {
    const auto kind = static_cast<RequestKind>(slot.tag2 & 0xff);
    if (kind == RequestKind::kValid || kind == RequestKind::kDuplicate) {
      run_.electorate.pool[slot.tag].flags |= kUnknown;
    }
  }

  std::array<std::uint64_t, kRequestKinds> sent{};
  std::array<std::array<std::uint64_t, 600>, kRequestKinds> status_by_kind{};
  std::array<std::uint64_t, 4> status_in_202{};
  std::uint64_t unreadable_202 = 0;
  std::uint64_t invalid_not_invalid = 0;
  std::vector<Pending> pending;
  bool exhausted() const { return exhausted_; }

 private:
  double Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  BodyStyle Style() { return (rng_() & 7) == 0 ? BodyStyle::kHuman : BodyStyle::kCompact; }
  const std::string& RandomLaw() {
    const auto& laws = run_.electorate.laws;
    return laws[rng_() % laws.size()];
  }
  static void Text(const PoolEntry& e, CredentialText& text) {
    FormatNas(e.nas, text.nas);
    text.code = e.code;
  }
  // A well-formed credential that is not in the registry: its NAS is no registered NAS.
  void Unregistered(CredentialText& text) {
    std::uint32_t nas;
    do {
      nas = RandomLuhnNas(rng_);
    } while (run_.electorate.Registered(nas));
    FormatNas(nas, text.nas);
    RandomCode(rng_, text.code);
  }

  VoteRun& run_;
  std::mt19937_64 rng_;
  std::string body_;
  std::vector<std::uint32_t> used_;  // rows of this thread whose first vote got a 202
  bool exhausted_ = false;
};

}  // namespace scrutin::loadgen

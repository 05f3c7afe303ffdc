// The ballot: the laws being voted on, with their titles, voting windows and results policy,
// read from laws.toml at start-up (README "Running an election with the embedded shape").
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/vote.hpp"

namespace scrutin::core {

enum class ResultsPolicy : std::uint8_t { kLive, kAfterClose };
std::string_view ToString(ResultsPolicy p);  // "live" / "after_close"

struct Law {
  std::string id;        // [A-Z][0-9]{4}-[0-9]{3}
  std::string title_fr;
  std::string title_en;
  Timestamp opens_at;    // voting window is [opens_at, ClosesAt())
  Timestamp closes_at;   // as configured in laws.toml; ClosesAt() is the one in force
  ResultsPolicy results = ResultsPolicy::kLive;
  // The closing time in force, shared by every copy of the law taken from one Ballot (set by the
  // Ballot; empty for a Law made on its own, whose closing time is closes_at).
  std::shared_ptr<std::atomic<Timestamp::rep>> schedule = nullptr;

  // closes_at, or where an emergency close or an extension moved it (Ballot::SetClosesAt).
  Timestamp ClosesAt() const {
    return schedule ? Timestamp(Timestamp::duration(schedule->load(std::memory_order_acquire)))
                    : closes_at;
  }
  bool IsOpen(Timestamp now) const { return now >= opens_at && now < ClosesAt(); }
  bool IsClosed(Timestamp now) const { return now >= ClosesAt(); }
  // Whether the law's tally may be shown at `now`: always for `live` results, only once the poll
  // has closed for `after_close` (the embargo). Every place that shows a tally (the results route,
  // the /api/v1/results listing, votes_by_law) asks this.
  bool ResultsVisible(Timestamp now) const {
    return results != ResultsPolicy::kAfterClose || IsClosed(now);
  }
};

// Thread-safety: const methods may run on any thread; SetClosesAt too (the closing times are
// atomics shared by every copy of the ballot and of its laws).
class Ballot {
 public:
  Ballot() = default;
  explicit Ballot(std::vector<Law> laws);

  // Parses laws.toml text. Errors name the law and the key: unknown keys, missing keys, a malformed
  // id, a duplicate id, unparsable dates, closes_at not after opens_at, an unknown results value,
  // no law at all.
  static Result<Ballot> Parse(std::string_view toml_text);
  static Result<Ballot> Load(const std::filesystem::path& path);

  // nullptr when the law is not on the ballot.
  const Law* Find(std::string_view law_id) const;
  const std::vector<Law>& laws() const { return laws_; }

  // Moves a law's closing time (an emergency close, an extension: the admin port); every copy of
  // this ballot and of its laws sees it at once. False when the law is not on the ballot. Const:
  // the schedule is shared, synchronised state, not part of the ballot's configured value.
  bool SetClosesAt(std::string_view law_id, Timestamp closes_at) const;

 private:
  std::vector<Law> laws_;
};

}  // namespace scrutin::core

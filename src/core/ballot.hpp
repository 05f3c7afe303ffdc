// The ballot: the laws being voted on, with their titles, voting windows and results policy,
// read from laws.toml at start-up (README "Running an election with the embedded shape").
#pragma once

#include <filesystem>
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
  Timestamp opens_at;    // voting window is [opens_at, closes_at)
  Timestamp closes_at;
  ResultsPolicy results = ResultsPolicy::kLive;

  bool IsOpen(Timestamp now) const { return now >= opens_at && now < closes_at; }
  bool IsClosed(Timestamp now) const { return now >= closes_at; }
  // Whether the law's tally may be shown at `now`: always for `live` results, only once the poll
  // has closed for `after_close` (the embargo). Every place that shows a tally (the results route,
  // the /api/v1/results listing, votes_by_law) asks this.
  bool ResultsVisible(Timestamp now) const {
    return results != ResultsPolicy::kAfterClose || IsClosed(now);
  }
};

class Ballot {
 public:
  Ballot() = default;
  explicit Ballot(std::vector<Law> laws) : laws_(std::move(laws)) {}

  // Parses laws.toml text. Errors name the law and the key: unknown keys, missing keys, a malformed
  // id, a duplicate id, unparsable dates, closes_at not after opens_at, an unknown results value,
  // no law at all.
  static Result<Ballot> Parse(std::string_view toml_text);
  static Result<Ballot> Load(const std::filesystem::path& path);

  // nullptr when the law is not on the ballot.
  const Law* Find(std::string_view law_id) const;
  const std::vector<Law>& laws() const { return laws_; }

 private:
  std::vector<Law> laws_;
};

}  // namespace scrutin::core

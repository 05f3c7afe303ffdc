#include "core/ballot.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/normalise.hpp"

namespace scrutin::core {
namespace {

// Bounds on what a ballot may hold: a configuration file, not a data set.
constexpr std::size_t kMaxLaws = 1000;
constexpr std::size_t kMaxTitleBytes = 1000;
constexpr std::uintmax_t kMaxFileBytes = 1 << 20;

constexpr std::string_view kKeys[] = {"id",       "title_fr",  "title_en",
                                      "opens_at", "closes_at", "results"};

std::string Where(const toml::node& node) {
  const auto& begin = node.source().begin;
  if (!begin) return "";
  return " (line " + std::to_string(begin.line) + ")";
}

// "law #2 (L2025-002)" or "law #2" before the id is known to be usable.
std::string LawName(std::size_t index, std::string_view id) {
  std::string name = "law #" + std::to_string(index + 1);
  if (!id.empty()) name += " (" + std::string(id) + ")";
  return name;
}

Result<Timestamp> ReadTime(const toml::node& node, const std::string& law, std::string_view key) {
  if (const auto* s = node.as_string()) {
    if (auto t = ParseTimestamp(s->get())) return *t;
    return Fail(law + ": " + std::string(key) + " '" + s->get() +
                "' is not an RFC 3339 date-time with a time zone (e.g. 2026-11-01T00:00:00Z)" +
                Where(node));
  }
  if (const auto* dt = node.as_date_time()) {
    const toml::date_time& v = dt->get();
    if (!v.offset) {
      return Fail(law + ": " + std::string(key) +
                  " is a local date-time; give a time zone offset (e.g. Z or -05:00)" +
                  Where(node));
    }
    if (v.date.year < kMinYear || v.date.year > kMaxYear) {
      return Fail(law + ": " + std::string(key) + " is outside the years " +
                  std::to_string(kMinYear) + "-" + std::to_string(kMaxYear) + Where(node));
    }
    std::tm tm{};
    tm.tm_year = v.date.year - 1900;
    tm.tm_mon = v.date.month - 1;
    tm.tm_mday = v.date.day;
    tm.tm_hour = v.time.hour;
    tm.tm_min = v.time.minute;
    tm.tm_sec = v.time.second;
    auto t =
        Clock::from_time_t(timegm(&tm)) - std::chrono::minutes(v.offset->minutes) +
        std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(v.time.nanosecond));
    return t;
  }
  return Fail(law + ": " + std::string(key) +
              " must be a date-time (an RFC 3339 string or a TOML " + "offset date-time)" +
              Where(node));
}

Result<std::string> ReadString(const toml::table& t, const std::string& law, std::string_view key) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return Fail(law + ": missing key '" + std::string(key) + "'" + Where(t));
  const auto* s = node->as_string();
  if (s == nullptr) return Fail(law + ": " + std::string(key) + " must be a string" + Where(*node));
  return s->get();
}

Result<Law> ReadLaw(const toml::table& t, std::size_t index) {
  std::string law = LawName(index, "");
  // The id first, so that every later error names the law.
  auto id = ReadString(t, law, "id");
  if (!id) return Fail(id.error());
  if (!IsWellFormedLawId(*id)) {
    return Fail(law + ": id '" + *id + "' is malformed (expected a letter, 4 digits, '-', 3 " +
                "digits, e.g. L2025-001)" + Where(*t.get("id")));
  }
  law = LawName(index, *id);
  for (auto&& [key, node] : t) {
    bool known = false;
    for (auto k : kKeys) known = known || key.str() == k;
    if (!known) {
      return Fail(law + ": unknown key '" + std::string(key.str()) + "'" + Where(node) +
                  "; allowed keys: id, title_fr, title_en, opens_at, closes_at, results");
    }
  }
  Law out;
  out.id = *id;
  for (auto [key, field] : {std::pair{"title_fr", &out.title_fr}, {"title_en", &out.title_en}}) {
    auto title = ReadString(t, law, key);
    if (!title) return Fail(title.error());
    if (title->empty() || title->size() > kMaxTitleBytes) {
      return Fail(law + ": " + key + " must be 1 to " + std::to_string(kMaxTitleBytes) +
                  " bytes long" + Where(*t.get(key)));
    }
    *field = std::move(*title);
  }
  for (auto [key, field] : {std::pair{"opens_at", &out.opens_at}, {"closes_at", &out.closes_at}}) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return Fail(law + ": missing key '" + key + "'" + Where(t));
    auto time = ReadTime(*node, law, key);
    if (!time) return Fail(time.error());
    *field = *time;
  }
  if (out.closes_at <= out.opens_at) {
    return Fail(law + ": closes_at must be after opens_at" + Where(*t.get("closes_at")));
  }
  if (const toml::node* node = t.get("results")) {
    const auto* s = node->as_string();
    if (s != nullptr && s->get() == "live") {
      out.results = ResultsPolicy::kLive;
    } else if (s != nullptr && s->get() == "after_close") {
      out.results = ResultsPolicy::kAfterClose;
    } else {
      return Fail(law + ": results must be \"live\" or \"after_close\"" + Where(*node));
    }
  }
  return out;
}

}  // namespace

std::string_view ToString(ResultsPolicy p) {
  return p == ResultsPolicy::kLive ? "live" : "after_close";
}

Result<Ballot> Ballot::Parse(std::string_view toml_text) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::string msg = "invalid TOML";
    if (e.source().begin) {
      msg += " at line " + std::to_string(e.source().begin.line) + ", column " +
             std::to_string(e.source().begin.column);
    }
    return Fail(msg + ": " + std::string(e.description()));
  }
  for (auto&& [key, node] : root) {
    if (key.str() != "law") {
      return Fail("unknown top-level key '" + std::string(key.str()) + "'" + Where(node) +
                  "; the file holds only [[law]] tables");
    }
  }
  const toml::node* laws_node = root.get("law");
  if (laws_node == nullptr) return Fail("no law on the ballot: add at least one [[law]] table");
  const toml::array* laws = laws_node->as_array();
  if (laws == nullptr) {
    return Fail("'law' must be an array of tables ([[law]])" + Where(*laws_node));
  }
  if (laws->empty()) return Fail("no law on the ballot: add at least one [[law]] table");
  if (laws->size() > kMaxLaws) {
    return Fail("too many laws on the ballot (at most " + std::to_string(kMaxLaws) + ")");
  }
  std::vector<Law> out;
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < laws->size(); ++i) {
    const toml::table* t = (*laws)[i].as_table();
    if (t == nullptr) {
      return Fail(LawName(i, "") + " must be a table ([[law]])" + Where((*laws)[i]));
    }
    auto law = ReadLaw(*t, i);
    if (!law) return Fail(law.error());
    if (!seen.insert(law->id).second) {
      return Fail(LawName(i, law->id) + ": duplicate id (already used by an earlier law)" +
                  Where(*t));
    }
    out.push_back(std::move(*law));
  }
  return Ballot(std::move(out));
}

Result<Ballot> Ballot::Load(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return Fail("cannot read ballot file '" + path.string() + "': " + ec.message());
  if (size > kMaxFileBytes) {
    return Fail("ballot file '" + path.string() + "' is larger than 1 MiB; is it the right file?");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    if (size == 0 && in) return Fail("ballot file '" + path.string() + "': no law on the ballot");
    return Fail("cannot read ballot file '" + path.string() + "'");
  }
  auto ballot = Parse(text.str());
  if (!ballot) return Fail("ballot file '" + path.string() + "': " + ballot.error());
  return ballot;
}

Ballot::Ballot(std::vector<Law> laws) : laws_(std::move(laws)) {
  for (Law& law : laws_) {
    if (!law.schedule) {
      law.schedule = std::make_shared<std::atomic<Timestamp::rep>>(
          law.closes_at.time_since_epoch().count());
    }
  }
}

bool Ballot::SetClosesAt(std::string_view law_id, Timestamp closes_at) const {
  const Law* law = Find(law_id);
  if (law == nullptr) return false;
  law->schedule->store(closes_at.time_since_epoch().count(), std::memory_order_release);
  return true;
}

const Law* Ballot::Find(std::string_view law_id) const {
  for (const Law& law : laws_) {
    if (law.id == law_id) return &law;
  }
  return nullptr;
}

}  // namespace scrutin::core

#include "core/vote_request.hpp"

#include <nlohmann/json.hpp>

#include "core/normalise.hpp"

namespace scrutin::core {
namespace {

constexpr std::size_t kMaxFieldNameBytes = 64;

enum FieldIndex : int { kNas, kCode, kLawId, kVote, kFieldCount };
constexpr std::string_view kFieldNames[kFieldCount] = {"nas", "code", "law_id", "vote"};

struct RawField {
  bool present = false;
  bool bad_type = false;  // not a string, or given twice
  std::string value;
};

// Truncates an attacker-chosen member name without splitting a UTF-8 sequence, so that the
// error body stays valid UTF-8.
std::string TruncatedName(const std::string& name) {
  if (name.size() <= kMaxFieldNameBytes) return name;
  std::size_t n = kMaxFieldNameBytes;
  while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  return name.substr(0, n);
}

// Streams the body once, without building a DOM: records the four known members of the top-level
// object, and the names of any others. Values nested below the top level are skipped.
class VoteSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  RawField fields[kFieldCount];
  std::map<std::string, std::string> unknown;
  bool not_object = false;

  bool null() override { return Scalar(); }
  bool boolean(bool) override { return Scalar(); }
  bool number_integer(number_integer_t) override { return Scalar(); }
  bool number_unsigned(number_unsigned_t) override { return Scalar(); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(); }
  bool binary(binary_t&) override { return Scalar(); }
  bool string(string_t& s) override {
    if (depth_ == 0) return NotObject();
    if (depth_ == 1) {
      if (RawField* f = Current()) {
        if (f->present) {
          f->bad_type = true;
        } else {
          f->value.swap(s);
        }
        f->present = true;
      }
    }
    Wipe(s);
    return true;
  }
  bool start_object(std::size_t) override {
    if (depth_ == 1) ContainerValue();
    ++depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) return NotObject();
    if (depth_ == 1) ContainerValue();
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ != 1) return true;
    current_ = -1;
    for (int i = 0; i < kFieldCount; ++i) {
      if (k == kFieldNames[i]) current_ = i;
    }
    if (current_ < 0) unknown.emplace(TruncatedName(k), std::string(kErrUnknownField));
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;  // the message quotes the input, which may hold the credential: not kept
  }

 private:
  RawField* Current() { return current_ >= 0 ? &fields[current_] : nullptr; }
  bool NotObject() {
    not_object = true;
    return false;
  }
  bool Scalar() {
    if (depth_ == 0) return NotObject();
    if (depth_ == 1) ContainerValue();
    return true;
  }
  // A top-level member whose value is not a string.
  void ContainerValue() {
    if (RawField* f = Current()) {
      f->bad_type = true;
      f->present = true;
    }
  }

  int depth_ = 0;
  int current_ = -1;
};

VoteRequestError Malformed(std::string message) {
  VoteRequestError e;
  e.kind = VoteRequestError::Kind::kMalformedJson;
  e.message = std::move(message);
  return e;
}

}  // namespace

VoteRequest::VoteRequest(VoteRequest&& other) noexcept
    : nas(std::move(other.nas)),
      code(std::move(other.code)),
      law_id(std::move(other.law_id)),
      choice(other.choice) {
  Wipe(other.nas);
  Wipe(other.code);
}

VoteRequest& VoteRequest::operator=(VoteRequest&& other) noexcept {
  if (this != &other) {
    Wipe(nas);
    Wipe(code);
    nas = std::move(other.nas);
    code = std::move(other.code);
    law_id = std::move(other.law_id);
    choice = other.choice;
    Wipe(other.nas);
    Wipe(other.code);
  }
  return *this;
}

VoteRequest::~VoteRequest() {
  Wipe(nas);
  Wipe(code);
}

Result<VoteRequest, VoteRequestError> ParseVoteRequest(std::string_view body,
                                                       const Ballot& ballot) {
  VoteSax sax;
  bool parsed = nlohmann::json::sax_parse(body.begin(), body.end(), &sax,
                                          nlohmann::json::input_format_t::json, true);
  struct Cleanup {
    VoteSax& sax;
    ~Cleanup() {
      for (auto& f : sax.fields) Wipe(f.value);
    }
  } cleanup{sax};
  if (sax.not_object) return Fail(Malformed("the request body must be a JSON object"));
  if (!parsed) return Fail(Malformed("the request body is not valid JSON"));

  VoteRequestError error;
  error.fields = std::move(sax.unknown);
  VoteRequest req;
  auto check = [&](FieldIndex i) -> const std::string* {
    const RawField& f = sax.fields[i];
    std::string name(kFieldNames[i]);
    if (!f.present) {
      error.fields[name] = kErrMissing;
    } else if (f.bad_type) {
      error.fields[name] = kErrFormat;
    } else {
      return &f.value;
    }
    return nullptr;
  };
  if (const std::string* v = check(kNas)) {
    if (auto err = NormaliseNas(*v, req.nas)) error.fields["nas"] = *err;
  }
  if (const std::string* v = check(kCode)) {
    if (auto err = NormaliseCode(*v, req.code)) error.fields["code"] = *err;
  }
  if (const std::string* v = check(kLawId)) {
    if (!IsWellFormedLawId(*v)) {
      error.fields["law_id"] = kErrFormat;
    } else if (ballot.Find(*v) == nullptr) {
      error.fields["law_id"] = kErrUnknownLaw;
    } else {
      req.law_id = *v;
    }
  }
  if (const std::string* v = check(kVote)) {
    if (auto choice = ParseChoice(*v)) {
      req.choice = *choice;
    } else {
      error.fields["vote"] = kErrFormat;
    }
  }
  if (error.fields.empty()) return req;

  error.kind = VoteRequestError::Kind::kInvalidFields;
  error.message = "invalid fields: ";
  bool first = true;
  for (const auto& [name, code] : error.fields) {
    if (!first) error.message += ", ";
    first = false;
    error.message += name + " (" + code + ")";
  }
  return Fail(std::move(error));
}

}  // namespace scrutin::core

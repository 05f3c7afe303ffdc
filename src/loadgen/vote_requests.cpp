#include "loadgen/vote_requests.hpp"

#include <charconv>

namespace scrutin::loadgen {
namespace {

constexpr std::string_view kCodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

std::string_view View(const std::array<char, 9>& a) { return {a.data(), a.size()}; }
std::string_view View(const std::array<char, 6>& a) { return {a.data(), a.size()}; }

void AppendQuoted(std::string& out, std::string_view key, std::string_view value,
                  std::string_view sep) {
  out += '"';
  out += key;
  out += '"';
  out += sep;
  out += '"';
  out += value;
  out += '"';
}

}  // namespace

void FormatNas(std::uint32_t nas, std::array<char, 9>& out) {
  for (int i = 8; i >= 0; --i) {
    out[i] = static_cast<char>('0' + nas % 10);
    nas /= 10;
  }
}

int LuhnCheckDigit(std::uint32_t first_eight) {
  // Counting from the right of the 9-digit number, the check digit is position 1 and every
  // second digit from position 2 on is doubled: in the 8 leading digits, that is the rightmost
  // one and every second one leftwards.
  int sum = 0;
  bool doubled = true;
  for (int i = 0; i < 8; ++i) {
    int d = static_cast<int>(first_eight % 10);
    first_eight /= 10;
    if (doubled) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    doubled = !doubled;
  }
  return (10 - sum % 10) % 10;
}

std::uint32_t RandomLuhnNas(std::mt19937_64& rng) {
  const auto first_eight = static_cast<std::uint32_t>(rng() % 100'000'000);
  return first_eight * 10 + static_cast<std::uint32_t>(LuhnCheckDigit(first_eight));
}

void RandomCode(std::mt19937_64& rng, std::array<char, 6>& out) {
  std::uint64_t bits = rng();
  for (auto& c : out) {
    c = kCodeAlphabet[bits % kCodeAlphabet.size()];
    bits /= kCodeAlphabet.size();
  }
}

void AppendVoteBody(std::string& out, const CredentialText& cred, std::string_view law_id,
                    core::Choice choice, BodyStyle style) {
  if (style == BodyStyle::kCompact) {
    out += '{';
    AppendQuoted(out, "nas", View(cred.nas), ":");
    out += ',';
    AppendQuoted(out, "code", View(cred.code), ":");
    out += ',';
    AppendQuoted(out, "law_id", law_id, ":");
    out += ',';
    AppendQuoted(out, "vote", core::ToString(choice), ":");
    out += '}';
    return;
  }
  std::array<char, 11> nas{};
  for (int i = 0, j = 0; i < 9; ++i) {
    if (i == 3 || i == 6) nas[j++] = ' ';
    nas[j++] = cred.nas[i];
  }
  std::array<char, 6> code = cred.code;
  for (char& c : code) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  out += "{\"vote\": \"";
  out += choice == core::Choice::kOui ? "OUI" : "NON";
  out += "\", ";
  AppendQuoted(out, "law_id", law_id, ": ");
  out += ", ";
  AppendQuoted(out, "nas", std::string_view(nas.data(), nas.size()), ": ");
  out += ", ";
  AppendQuoted(out, "code", View(code), ": ");
  out += "}";
}

std::string_view MalformedVariantName(int variant) {
  static constexpr std::array<std::string_view, kMalformedVariants> kNames = {
      "truncated_json", "not_json",      "not_an_object",   "missing_field",
      "unknown_field",  "nas_checksum",  "code_format",     "vote_format",
      "unknown_law",    "law_id_format", "nas_not_a_string"};
  return kNames[static_cast<std::size_t>(variant) % kNames.size()];
}

void AppendMalformedBody(std::string& out, int variant, const CredentialText& cred,
                         std::string_view law_id) {
  const std::string_view nas = View(cred.nas);
  const std::string_view code = View(cred.code);
  auto object = [&](std::string_view n, std::string_view c, std::string_view l,
                    std::string_view v) {
    out += '{';
    AppendQuoted(out, "nas", n, ":");
    out += ',';
    AppendQuoted(out, "code", c, ":");
    out += ',';
    AppendQuoted(out, "law_id", l, ":");
    out += ',';
    AppendQuoted(out, "vote", v, ":");
  };
  switch (variant) {
    case 0:  // the body stops in the middle of the code
      out += "{\"nas\":\"";
      out += nas;
      out += "\",\"code\":\"";
      out += code.substr(0, 3);
      return;
    case 1:
      out += "nas=";
      out += nas;
      out += "&vote=oui";
      return;
    case 2:
      out += "[\"";
      out += nas;
      out += "\",\"oui\"]";
      return;
    case 3:  // no vote
      out += '{';
      AppendQuoted(out, "nas", nas, ":");
      out += ',';
      AppendQuoted(out, "code", code, ":");
      out += ',';
      AppendQuoted(out, "law_id", law_id, ":");
      out += '}';
      return;
    case 4:
      object(nas, code, law_id, "oui");
      out += ",\"choix\":\"oui\"}";
      return;
    case 5: {  // the last digit changed: the Luhn check fails
      std::array<char, 9> bad = cred.nas;
      bad[8] = static_cast<char>('0' + (bad[8] - '0' + 1) % 10);
      object(std::string_view(bad.data(), bad.size()), code, law_id, "oui");
      out += '}';
      return;
    }
    case 6:
      object(nas, "AB-12", law_id, "non");
      out += '}';
      return;
    case 7:
      object(nas, code, law_id, "peut-etre");
      out += '}';
      return;
    case 8:
      object(nas, code, "Z9999-999", "oui");
      out += '}';
      return;
    case 9:
      object(nas, code, "L2025", "non");
      out += '}';
      return;
    default: {  // the NAS as a JSON number
      const std::size_t first = nas.find_first_not_of('0');
      out += "{\"nas\":";
      out += nas.substr(first == std::string_view::npos ? 8 : first);
      out += ',';
      AppendQuoted(out, "code", code, ":");
      out += ',';
      AppendQuoted(out, "law_id", law_id, ":");
      out += ",\"vote\":\"oui\"}";
      return;
    }
  }
}

std::string PostHead(std::string_view path, std::string_view host_header) {
  std::string head = "POST ";
  head += path;
  head += " HTTP/1.1\r\nHost: ";
  head += host_header;
  head += "\r\nContent-Type: application/json\r\nContent-Length: ";
  return head;
}

void AssemblePost(std::string& out, std::string_view head, std::string_view body) {
  out.clear();
  out += head;
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, body.size());
  out.append(digits, end);
  out += "\r\n\r\n";
  out += body;
}

void AssembleGet(std::string& out, std::string_view path, std::string_view host_header) {
  out.clear();
  out += "GET ";
  out += path;
  out += " HTTP/1.1\r\nHost: ";
  out += host_header;
  out += "\r\n\r\n";
}

std::optional<std::string_view> FindJsonString(std::string_view json, std::string_view key) {
  std::size_t pos = 0;
  while (true) {
    pos = json.find(key, pos);
    if (pos == std::string_view::npos) return std::nullopt;
    const std::size_t end = pos + key.size();
    const bool quoted = pos > 0 && json[pos - 1] == '"' && end < json.size() && json[end] == '"';
    pos = end;
    if (!quoted) continue;
    std::size_t i = end + 1;
    while (i < json.size() &&
           (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) {
      ++i;
    }
    // A key is followed by ':'; the same word as a value is followed by ',' or '}'.
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() &&
           (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) {
      ++i;
    }
    if (i >= json.size() || json[i] != '"') return std::nullopt;
    const std::size_t close = json.find('"', i + 1);
    if (close == std::string_view::npos) return std::nullopt;
    return json.substr(i + 1, close - i - 1);
  }
}

}  // namespace scrutin::loadgen

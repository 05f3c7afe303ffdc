// A minimal JSON writer for the API's responses: appends to one string with no intermediate
// document, so a response costs one allocation. Keys are written as given (they are literals);
// string values are escaped per RFC 8259 (quote, backslash and control characters; UTF-8 passes
// through unchanged).
// Private to src/http: other modules use its public headers.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace scrutin::http {

// Appends `s` as a JSON string literal, quotes included.
inline void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

// Builds one JSON object: JsonObject(out).Str("a", "x").Int("n", 3).Close().
class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_.push_back('{'); }

  JsonObject& Str(std::string_view key, std::string_view value) {
    Key(key);
    AppendJsonString(out_, value);
    return *this;
  }
  JsonObject& Int(std::string_view key, std::int64_t value) {
    Key(key);
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, r.ptr);
    return *this;
  }
  JsonObject& Uint(std::string_view key, std::uint64_t value) {
    Key(key);
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, r.ptr);
    return *this;
  }
  JsonObject& Bool(std::string_view key, bool value) {
    Key(key);
    out_.append(value ? "true" : "false");
    return *this;
  }
  // `json` must already be valid JSON (an object or array built separately).
  JsonObject& Raw(std::string_view key, std::string_view json) {
    Key(key);
    out_.append(json);
    return *this;
  }
  void Close() { out_.push_back('}'); }

 private:
  void Key(std::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(key);
    out_.append("\":");
  }

  std::string& out_;
  bool first_ = true;
};

}  // namespace scrutin::http

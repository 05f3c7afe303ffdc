#include "adapters/postgres/pg_array.hpp"

namespace scrutin::postgres {

void PgArrayLiteral::Separator() {
  if (size_++ > 0) text_.push_back(',');
}

PgArrayLiteral& PgArrayLiteral::Add(std::string_view value) {
  Separator();
  text_.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') text_.push_back('\\');
    text_.push_back(c);
  }
  text_.push_back('"');
  return *this;
}

PgArrayLiteral& PgArrayLiteral::Add(std::int64_t value) {
  Separator();
  text_ += std::to_string(value);
  return *this;
}

PgArrayLiteral& PgArrayLiteral::AddNull() {
  Separator();
  text_ += "NULL";
  return *this;
}

std::string PgArrayLiteral::Take() {
  text_.push_back('}');
  std::string out = std::move(text_);
  // clear + push_back rather than `= "{"`: GCC 12 warns (-Wrestrict, a false positive) on
  // assigning a literal to a moved-from string, and CI builds with warnings as errors.
  text_.clear();
  text_.push_back('{');
  size_ = 0;
  return out;
}

}  // namespace scrutin::postgres

// PgArrayLiteral: builds the text form of a PostgreSQL array ('{"a","b"}') to pass a whole column
// of a batch as one parameter, so that a batch of N rows is one statement
// (INSERT ... SELECT * FROM unnest($1::text[], $2::int[], ...)) instead of N.
//
// Every element is double-quoted with '"' and '\' escaped, so any text round-trips, including
// empty strings and the word NULL; AddNull() adds a real SQL NULL.
// Private to src/adapters/postgres: other modules use its public headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace scrutin::postgres {

class PgArrayLiteral {
 public:
  PgArrayLiteral() : text_("{") {}

  PgArrayLiteral& Add(std::string_view value);
  PgArrayLiteral& Add(std::int64_t value);
  PgArrayLiteral& AddNull();

  std::size_t size() const { return size_; }
  // The literal, e.g. {"x","y"}; "{}" when empty. The builder is empty again afterwards.
  std::string Take();

 private:
  void Separator();
  std::string text_;
  std::size_t size_ = 0;
};

}  // namespace scrutin::postgres

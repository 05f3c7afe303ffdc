// What the offline module's tests share: an in-memory RegistryReader and a fixed hasher.
// Private to src/offline: other modules use its public headers.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/credential.hpp"
#include "core/registry.hpp"
#include "core/synthetic_registry.hpp"

namespace scrutin::offline::testing {

// A registry read from memory: each entry is a row, or the error a bad row gives. `break_at`
// (1-based entry index, 0: never) makes the reader report a read failure there and stay broken.
class FakeRegistryReader final : public core::RegistryReader {
 public:
  using Entry = std::variant<core::RegistryRow, std::string>;

  explicit FakeRegistryReader(std::vector<Entry> entries, std::size_t break_at = 0)
      : entries_(std::move(entries)), break_at_(break_at) {}

  core::Result<bool> Next(core::RegistryRow& row) override {
    if (broken_ || (break_at_ != 0 && next_ + 1 == break_at_)) {
      broken_ = true;
      return core::Fail(std::string("read error: disk on fire"));
    }
    if (next_ == entries_.size()) return false;
    line_ = next_ + 2;  // line 1 is the header
    bytes_ += 27;
    const Entry& e = entries_[next_++];
    if (const auto* error = std::get_if<std::string>(&e)) {
      return core::Fail("line " + std::to_string(line_) + ": " + *error);
    }
    row = std::get<core::RegistryRow>(e);
    return true;
  }
  bool broken() const override { return broken_; }
  std::uint64_t bytes_read() const override { return bytes_; }
  std::uint64_t file_size() const override { return 27 * entries_.size(); }
  std::uint64_t line() const override { return line_; }

 private:
  std::vector<Entry> entries_;
  std::size_t break_at_;
  std::size_t next_ = 0;
  std::uint64_t line_ = 0;
  std::uint64_t bytes_ = 0;
  bool broken_ = false;
};

// Rows for voters [first, first + count) of a fixed synthetic registry, for one law.
inline std::vector<FakeRegistryReader::Entry> Voters(std::uint64_t first, std::uint64_t count,
                                                     const std::string& law_id) {
  core::SyntheticRegistry registry(42);
  std::vector<FakeRegistryReader::Entry> rows;
  for (std::uint64_t i = first; i < first + count; ++i) {
    core::RegistryRow row;
    registry.Voter(i, row.nas, row.code);
    row.law_id = law_id;
    rows.emplace_back(std::move(row));
  }
  return rows;
}

inline core::CredentialHasher TestHasher() {
  const std::vector<std::uint8_t> key(core::kElectionKeySize, 0x5a);
  return *core::CredentialHasher::Create(core::HashScheme::kHmacSha256, key);
}

}  // namespace scrutin::offline::testing

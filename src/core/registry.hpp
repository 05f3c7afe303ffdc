// The voter registry: CSV with header `nas,code,law_id`, one row per voter per law. Read as a
// stream so that 8 million rows never need 8 million rows of memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace scrutin::core {

struct RegistryRow {
  std::string nas;   // normalised: 9 digits
  std::string code;  // normalised: upper case
  std::string law_id;
};

// Reads a registry CSV. Accepts LF or CRLF line ends, a UTF-8 BOM, surrounding spaces, and
// double-quoted fields; blank lines are skipped; the three columns may come in any order given by
// the header (names case-insensitive); a line is at most 4 KiB. Open() fails on a missing or bad
// header. Each bad row is an error naming its 1-based line number and the reason
// (e.g. "line 17: nas: checksum"), never the row's content.
class RegistryReader {
 public:
  static Result<std::unique_ptr<RegistryReader>> Open(const std::filesystem::path& path);
  virtual ~RegistryReader() = default;

  // Next row into `row`: true on a row, false at the end; error on a bad row or a read failure.
  // After a bad row the reader has moved past it, so the caller may go on to collect further
  // errors; after a read failure broken() is true and Next() keeps returning that error.
  virtual Result<bool> Next(RegistryRow& row) = 0;
  virtual bool broken() const = 0;
  // Bytes consumed so far and the file size, for progress display.
  virtual std::uint64_t bytes_read() const = 0;
  virtual std::uint64_t file_size() const = 0;
  // 1-based line number of the last row returned.
  virtual std::uint64_t line() const = 0;
};

}  // namespace scrutin::core

#include "core/registry.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/normalise.hpp"

namespace scrutin::core {
namespace {

constexpr std::size_t kBufferSize = 1 << 20;  // one read() per MiB
constexpr std::size_t kMaxLineBytes = 4096;
constexpr std::size_t kColumns = 3;
constexpr std::string_view kColumnNames[kColumns] = {"nas", "code", "law_id"};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Splits one CSV line into fields (views into `line`, quotes removed; a doubled quote inside a
// quoted field is kept as is, which no valid value contains). Returns the number of fields found
// (counting past `max`), or -1 on a malformed quoted field.
int SplitFields(std::string_view line, std::string_view* out, std::size_t max) {
  std::size_t count = 0;
  std::size_t pos = 0;
  while (true) {
    while (pos < line.size() && IsBlank(line[pos])) ++pos;
    std::string_view field;
    if (pos < line.size() && line[pos] == '"') {
      std::size_t start = ++pos;
      while (true) {
        std::size_t q = line.find('"', pos);
        if (q == std::string_view::npos) return -1;  // unterminated
        if (q + 1 < line.size() && line[q + 1] == '"') {
          pos = q + 2;
          continue;
        }
        field = line.substr(start, q - start);
        pos = q + 1;
        break;
      }
      while (pos < line.size() && IsBlank(line[pos])) ++pos;
      if (pos < line.size() && line[pos] != ',') return -1;  // text after the closing quote
    } else {
      std::size_t comma = line.find(',', pos);
      if (comma == std::string_view::npos) comma = line.size();
      field = Trim(line.substr(pos, comma - pos));
      pos = comma;
    }
    if (count < max) out[count] = field;
    ++count;
    if (pos >= line.size()) break;
    ++pos;  // the comma
  }
  return static_cast<int>(count);
}

class CsvRegistryReader final : public RegistryReader {
 public:
  CsvRegistryReader(int fd, std::uint64_t size) : fd_(fd), file_size_(size), buf_(kBufferSize) {}
  ~CsvRegistryReader() override {
    OPENSSL_cleanse(buf_.data(), buf_.size());
    ::close(fd_);
  }

  // Reads and checks the header line; maps the columns.
  Status ReadHeader() {
    std::string_view line;
    auto got = NextLine(line);
    if (!got) return Fail(got.error());
    if (!*got) return Fail(std::string("the file is empty (expected the header nas,code,law_id)"));
    if (line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
    std::string_view fields[kColumns + 1];
    int n = SplitFields(line, fields, kColumns + 1);
    bool ok = n == static_cast<int>(kColumns);
    bool seen[kColumns] = {};
    for (std::size_t i = 0; ok && i < kColumns; ++i) {
      std::string name(fields[i]);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      int match = -1;
      for (std::size_t k = 0; k < kColumns; ++k) {
        if (name == kColumnNames[k]) match = static_cast<int>(k);
      }
      if (match < 0 || seen[match]) {
        ok = false;
      } else {
        seen[match] = true;
        column_[match] = i;
      }
    }
    if (!ok) return Fail(std::string("line 1: expected the header nas,code,law_id"));
    return {};
  }

  Result<bool> Next(RegistryRow& row) override {
    if (broken_) return Fail(broken_error_);
    std::string_view line;
    while (true) {
      auto got = NextLine(line);
      if (!got) return Fail(got.error());
      if (!*got) return false;
      if (!Trim(line).empty()) break;
    }
    std::string_view fields[kColumns];
    int n = SplitFields(line, fields, kColumns);
    if (n < 0) return Fail(At() + "malformed quoted field");
    if (n != static_cast<int>(kColumns)) {
      return Fail(At() + "expected 3 fields (nas,code,law_id), found " + std::to_string(n));
    }
    std::string reasons;
    auto add = [&](std::string_view column, std::string_view reason) {
      if (!reasons.empty()) reasons += ", ";
      reasons.append(column).append(": ").append(reason);
    };
    std::string_view nas = fields[column_[0]];
    std::string_view code = fields[column_[1]];
    std::string_view law = fields[column_[2]];
    if (nas.empty()) {
      add("nas", kErrMissing);
    } else if (auto err = NormaliseNas(nas, row.nas)) {
      add("nas", *err);
    }
    if (code.empty()) {
      add("code", kErrMissing);
    } else if (auto err = NormaliseCode(code, row.code)) {
      add("code", *err);
    }
    if (law.empty()) {
      add("law_id", kErrMissing);
    } else if (!IsWellFormedLawId(law)) {
      add("law_id", kErrFormat);
    } else {
      row.law_id.assign(law);
    }
    if (!reasons.empty()) return Fail(At() + reasons);
    return true;
  }

  bool broken() const override { return broken_; }
  std::uint64_t bytes_read() const override { return consumed_; }
  std::uint64_t file_size() const override { return file_size_; }
  std::uint64_t line() const override { return line_; }

 private:
  std::string At() const { return "line " + std::to_string(line_) + ": "; }

  Result<bool> Broken(std::string error) {
    broken_ = true;
    broken_error_ = std::move(error);
    return Fail(broken_error_);
  }

  // Reads more data after the unconsumed tail [begin_, end_), moved to the front first.
  Result<std::size_t> Fill() {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    while (true) {
      ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(std::string("read error: ") + std::strerror(errno));
      if (n == 0) eof_ = true;
      end_ += static_cast<std::size_t>(n);
      return static_cast<std::size_t>(n);
    }
  }

  std::string TooLong() const {
    return At() + "line longer than " + std::to_string(kMaxLineBytes) + " bytes";
  }

  // Next physical line without its line end; false at the end of the file. An over-long line is
  // reported (as a bad row) and skipped, so memory stays bounded whatever the input.
  Result<bool> NextLine(std::string_view& line) {
    while (true) {
      const char* start = buf_.data() + begin_;
      const std::size_t avail = end_ - begin_;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
      if (skipping_) {
        const std::size_t drop = nl != nullptr ? static_cast<std::size_t>(nl - start) + 1 : avail;
        begin_ += drop;
        consumed_ += drop;
        if (nl != nullptr || eof_) {
          skipping_ = false;
          return Fail(TooLong());
        }
        if (auto n = Fill(); !n) return Broken(n.error());
        continue;
      }
      if (nl == nullptr) {
        if (avail > kMaxLineBytes) {
          skipping_ = true;
          ++line_;
          continue;
        }
        if (!eof_) {
          if (auto n = Fill(); !n) return Broken(n.error());
          continue;
        }
        if (avail == 0) return false;
      }
      const std::size_t len = nl != nullptr ? static_cast<std::size_t>(nl - start) : avail;
      const std::size_t advance = nl != nullptr ? len + 1 : len;
      begin_ += advance;
      consumed_ += advance;
      ++line_;
      if (len > kMaxLineBytes) return Fail(TooLong());
      line = std::string_view(start, len);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return true;
    }
  }

  int fd_;
  std::uint64_t file_size_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool skipping_ = false;  // inside an over-long line
  bool broken_ = false;
  std::string broken_error_;
  std::uint64_t consumed_ = 0;
  std::uint64_t line_ = 0;
  std::size_t column_[kColumns] = {0, 1, 2};
};

}  // namespace

Result<std::unique_ptr<RegistryReader>> RegistryReader::Open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail(std::string("not a regular file"));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto reader = std::make_unique<CsvRegistryReader>(fd, static_cast<std::uint64_t>(st.st_size));
  if (auto s = reader->ReadHeader(); !s) return Fail(s.error());
  return std::unique_ptr<RegistryReader>(std::move(reader));
}

}  // namespace scrutin::core

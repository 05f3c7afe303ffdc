// Fuzzes core::RegistryReader, which reads the registry CSV an operator hands over (untrusted
// text). Each input is written to one file in a private temporary directory (under /dev/shm when
// it exists) and read to the end. Checks: it never crashes (ASan/UBSan); it ends in a bounded
// number of steps; every row it returns is normalised (nas 9 digits, code 6 of [A-Z0-9], law_id
// non-empty); every row error names its line ("line N: ...").
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "core/registry.hpp"

namespace {

std::filesystem::path* g_dir = nullptr;
std::filesystem::path* g_file = nullptr;

void RemoveDir() {
  if (g_dir != nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(*g_dir, ec);
  }
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool AllUpperAlnum(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string pattern =
      std::filesystem::is_directory("/dev/shm")
          ? "/dev/shm/scrutin-registry-fuzz-XXXXXX"
          : (std::filesystem::temp_directory_path() / "scrutin-registry-fuzz-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("registry_fuzz: mkdtemp");
    std::exit(2);
  }
  g_dir = new std::filesystem::path(pattern);
  g_file = new std::filesystem::path(*g_dir / "registry.csv");
  std::atexit(RemoveDir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(*g_file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) {
      std::perror("registry_fuzz: write");
      std::exit(2);
    }
  }
  auto reader = scrutin::core::RegistryReader::Open(*g_file);
  if (!reader.ok()) {
    if (reader.error().empty()) std::abort();
    return 0;
  }
  scrutin::core::RegistryRow row;
  // A line holds at least its end, so there are at most size + 1 rows or row errors.
  for (std::size_t step = 0;; ++step) {
    if (step > size + 1) std::abort();
    auto next = (*reader)->Next(row);
    if (!next.ok()) {
      if ((*reader)->broken()) break;
      if (next.error().rfind("line ", 0) != 0) std::abort();
      continue;
    }
    if (!next.value()) break;
    if (row.nas.size() != 9 || !AllDigits(row.nas)) std::abort();
    if (row.code.size() != 6 || !AllUpperAlnum(row.code)) std::abort();
    if (row.law_id.empty()) std::abort();
    if ((*reader)->bytes_read() > (*reader)->file_size()) std::abort();
  }
  return 0;
}

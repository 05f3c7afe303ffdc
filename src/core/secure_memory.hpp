// SecureBuffer: a small block of secret bytes (an election key, its precomputed HMAC states) kept
// out of core dumps and, when the system allows it, out of swap, and wiped when it is released.
//
// The bytes live on pages of their own (mmap), so that marking them MADV_DONTDUMP and mlock'ing
// them affects nothing else. Both marks are best-effort (an old kernel lacks MADV_DONTDUMP; an
// unprivileged process may exceed RLIMIT_MEMLOCK): dont_dump() and locked() say what was obtained.
// The process-wide defences (no core file at all, not dumpable: src/apps/process_hygiene.hpp) do
// not depend on them; this is the second line for a dump taken anyway (e.g. by a privileged tool).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/result.hpp"

namespace scrutin::core {

class SecureBuffer {
 public:
  // `size` zeroed bytes (REQUIRES size > 0), page-aligned. Error (one sentence) only when the
  // memory cannot be mapped at all.
  static Result<SecureBuffer> Allocate(std::size_t size);

  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;
  // Wipes the bytes, unlocks and unmaps the pages.
  ~SecureBuffer();

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::span<std::uint8_t> span() { return {data_, size_}; }
  std::span<const std::uint8_t> span() const { return {data_, size_}; }

  // Whether madvise(MADV_DONTDUMP) and mlock succeeded for these pages.
  bool dont_dump() const { return dont_dump_; }
  bool locked() const { return locked_; }

 private:
  SecureBuffer() = default;
  void Release() noexcept;

  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_ = 0;  // whole pages
  bool dont_dump_ = false;
  bool locked_ = false;
};

}  // namespace scrutin::core

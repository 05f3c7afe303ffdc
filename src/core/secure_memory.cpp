#include "core/secure_memory.hpp"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace scrutin::core {

Result<SecureBuffer> SecureBuffer::Allocate(std::size_t size) {
  if (size == 0) return Fail(std::string("a secure buffer cannot be empty"));
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::size_t page_size = page > 0 ? static_cast<std::size_t>(page) : 4096;
  const std::size_t mapped = (size + page_size - 1) / page_size * page_size;
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return Fail("cannot map " + std::to_string(mapped) +
                " bytes for key material: " + std::strerror(errno));
  }
  SecureBuffer b;
  b.data_ = static_cast<std::uint8_t*>(p);
  b.size_ = size;
  b.mapped_ = mapped;
  // Before any secret is written: left out of core dumps, and kept in RAM (never swapped out).
  b.dont_dump_ = ::madvise(p, mapped, MADV_DONTDUMP) == 0;
  b.locked_ = ::mlock(p, mapped) == 0;
  return b;  // anonymous mappings are zero-filled
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)),
      dont_dump_(std::exchange(other.dont_dump_, false)),
      locked_(std::exchange(other.locked_, false)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    dont_dump_ = std::exchange(other.dont_dump_, false);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

SecureBuffer::~SecureBuffer() { Release(); }

void SecureBuffer::Release() noexcept {
  if (data_ == nullptr) return;
  OPENSSL_cleanse(data_, mapped_);  // not optimised away, unlike a memset before munmap
  if (locked_) ::munlock(data_, mapped_);
  ::munmap(data_, mapped_);
  data_ = nullptr;
  size_ = mapped_ = 0;
  dont_dump_ = locked_ = false;
}

}  // namespace scrutin::core

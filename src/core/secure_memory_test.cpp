#include "core/secure_memory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace scrutin::core {
namespace {

// The VmFlags of the /proc/self/smaps mapping that starts at `p` ("" when not found).
std::string VmFlagsOf(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::ostringstream want;
  want << std::hex << reinterpret_cast<std::uintptr_t>(p) << "-";
  bool in = false;
  for (std::string line; std::getline(smaps, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') != std::string::npos && line.find(' ') > line.find('-')) {
      in = line.starts_with(want.str());
    } else if (in && line.starts_with("VmFlags:")) {
      return line;
    }
  }
  return "";
}

TEST(SecureBufferTest, PageAlignedZeroedAndWritable) {
  auto b = SecureBuffer::Allocate(64);
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(b->size(), 64u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data()) % ::sysconf(_SC_PAGESIZE), 0u);
  EXPECT_TRUE(std::all_of(b->data(), b->data() + b->size(), [](auto c) { return c == 0; }));
  std::fill(b->data(), b->data() + b->size(), 0xA5);
  EXPECT_EQ(b->span()[63], 0xA5);
}

TEST(SecureBufferTest, MarkedDontDump) {
  auto b = SecureBuffer::Allocate(32);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->dont_dump());
  // The kernel's own view: "dd" (do not dump) in the mapping's VmFlags.
  std::string flags = VmFlagsOf(b->data());
  ASSERT_FALSE(flags.empty()) << "mapping not found in /proc/self/smaps";
  EXPECT_NE(flags.find(" dd"), std::string::npos) << flags;
#if !defined(__SANITIZE_ADDRESS__)  // ASan's mlock interceptor succeeds without locking anything
  if (b->locked()) {
    EXPECT_NE(flags.find(" lo"), std::string::npos) << flags;
  }
#endif
}

TEST(SecureBufferTest, MoveTransfersOwnership) {
  auto b = SecureBuffer::Allocate(16);
  ASSERT_TRUE(b.ok());
  std::uint8_t* data = b->data();
  data[0] = 7;
  SecureBuffer moved = std::move(b).value();
  EXPECT_EQ(moved.data(), data);
  EXPECT_EQ(moved.data()[0], 7);
  auto other = SecureBuffer::Allocate(16);
  ASSERT_TRUE(other.ok());
  *other = std::move(moved);  // releases other's pages, takes moved's
  EXPECT_EQ(other->data(), data);
  EXPECT_EQ(moved.data(), nullptr);
  EXPECT_EQ(moved.size(), 0u);
}

TEST(SecureBufferTest, EmptyIsRefused) { EXPECT_FALSE(SecureBuffer::Allocate(0).ok()); }

}  // namespace
}  // namespace scrutin::core

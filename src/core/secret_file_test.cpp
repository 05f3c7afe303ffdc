#include "core/secret_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace scrutin::core {
namespace {

struct stat File(mode_t mode, uid_t owner) {
  struct stat st {};
  st.st_mode = S_IFREG | mode;
  st.st_uid = owner;
  return st;
}

constexpr unsigned kUser = 10001;

TEST(SecretFileMode, OwnerOnlyWhenTheProcessOwnsIt) {
  for (mode_t mode : {0600, 0400}) {
    EXPECT_TRUE(CheckSecretFileMode(File(mode, kUser), kUser, "f", "token").ok()) << mode;
  }
  for (mode_t mode : {0640, 0440, 0644, 0604, 0620, 0660, 0610}) {
    auto st = CheckSecretFileMode(File(mode, kUser), kUser, "/run/f", "admin token");
    ASSERT_FALSE(st.ok()) << mode;
    EXPECT_NE(st.error().find("too open"), std::string::npos) << st.error();
    EXPECT_NE(st.error().find("chmod 600 '/run/f'"), std::string::npos) << st.error();
    EXPECT_NE(st.error().find("admin token file '/run/f'"), std::string::npos) << st.error();
  }
}

// A Kubernetes Secret volume with fsGroup: root-owned, defaultMode 0400 or 0440 plus g+r.
TEST(SecretFileMode, RootOwnedMayBeGroupReadableForANonRootProcess) {
  for (mode_t mode : {0400, 0440, 0600, 0640}) {
    EXPECT_TRUE(CheckSecretFileMode(File(mode, 0), kUser, "f", "key").ok()) << mode;
  }
  for (mode_t mode : {0444, 0460, 0660, 0644, 0450, 0404, 0470}) {
    EXPECT_FALSE(CheckSecretFileMode(File(mode, 0), kUser, "f", "key").ok()) << mode;
  }
  // A root process gets the strict rule for its own files.
  EXPECT_FALSE(CheckSecretFileMode(File(0440, 0), 0, "f", "key").ok());
  EXPECT_TRUE(CheckSecretFileMode(File(0400, 0), 0, "f", "key").ok());
  // Another non-root owner's group-readable file is refused.
  EXPECT_FALSE(CheckSecretFileMode(File(0440, 999), kUser, "f", "key").ok());
}

TEST(SecretFileMode, OnlyRegularFiles) {
  struct stat st {};
  st.st_mode = S_IFIFO | 0600;
  st.st_uid = kUser;
  auto r = CheckSecretFileMode(st, kUser, "f", "key");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not a regular file"), std::string::npos);
}

TEST(ReadSecretFile, ReadsBoundedAndChecked) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("scrutin_secret_file_test_" + std::to_string(::getpid()));
  std::ofstream(path) << "postgresql://u:hunter2@h/db\n";
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto text = ReadSecretFile(path, "PostgreSQL URL", 4096);
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_EQ(*text, "postgresql://u:hunter2@h/db\n");
  auto small = ReadSecretFile(path, "PostgreSQL URL", 8);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().find("hunter2"), std::string::npos);
  // The test's own file: the strict rule, whoever runs it (root included).
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto open = ReadSecretFile(path, "PostgreSQL URL", 4096);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().find("0644"), std::string::npos) << open.error();
  EXPECT_EQ(open.error().find("hunter2"), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_FALSE(ReadSecretFile(path, "PostgreSQL URL", 4096).ok());
}

}  // namespace
}  // namespace scrutin::core

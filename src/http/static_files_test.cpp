#include "http/static_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace scrutin::http {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("scrutin_static_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "fr");
    fs::create_directories(root_ / ".git");
    Write("index.html", "<h1>vote</h1>");
    Write("app.JS", "console.log(1)");
    Write("style.css", "body{}");
    Write("fr/index.html", "<h1>voter</h1>");
    Write("data.bin", "\x01\x02");
    Write(".env", "SECRET=1");
    Write(".git/config", "[core]");
    Write("a b.txt", "space");
    // A file outside the root, to try to reach.
    std::ofstream(root_.parent_path() / "scrutin_outside.txt") << "outside";
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const std::string& rel, const std::string& content) {
    std::ofstream(root_ / rel, std::ios::binary) << content;
  }

  fs::path root_;
};

TEST_F(StaticFilesTest, ServesFilesWithTheirTypes) {
  auto files = StaticFiles::Load(root_);
  ASSERT_TRUE(files.ok()) << files.error();
  const auto* index = files->Find("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->body, "<h1>vote</h1>");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(files->Find("/index.html"), index);
  ASSERT_NE(files->Find("/fr/"), nullptr);
  EXPECT_EQ(files->Find("/fr/")->body, "<h1>voter</h1>");
  EXPECT_EQ(files->Find("/app.JS")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(files->Find("/style.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(files->Find("/data.bin")->content_type, "application/octet-stream");
  ASSERT_NE(files->Find("/a%20b.txt"), nullptr);
  EXPECT_EQ(files->Find("/a%20b.txt")->body, "space");
}

TEST_F(StaticFilesTest, EtagChangesWithContent) {
  auto a = StaticFiles::Load(root_);
  Write("index.html", "<h1>changed</h1>");
  auto b = StaticFiles::Load(root_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->Find("/")->etag, b->Find("/")->etag);
  EXPECT_EQ(a->Find("/style.css")->etag, b->Find("/style.css")->etag);
  EXPECT_EQ(a->Find("/")->etag.front(), '"');
}

TEST_F(StaticFilesTest, NothingOutsideTheLoadedSetIsReachable) {
  auto files = StaticFiles::Load(root_);
  ASSERT_TRUE(files.ok());
  for (const char* path :
       {"/../scrutin_outside.txt", "/%2e%2e/scrutin_outside.txt", "/fr/../../scrutin_outside.txt",
        "/.env", "/.git/config", "/%2eenv", "/missing.html", "/fr", "", "index.html",
        "/index.html%00.txt", "/%zz", "/%2", "//index.html", "/etc/passwd"}) {
    EXPECT_EQ(files->Find(path), nullptr) << path;
  }
}

TEST_F(StaticFilesTest, RefusesAMissingRoot) {
  auto files = StaticFiles::Load(root_ / "nope");
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().find("not a directory"), std::string::npos);
}

TEST(StaticFilesPlaceholderTest, ServesAPageAtTheRootOnly) {
  auto files = StaticFiles::Placeholder();
  ASSERT_NE(files.Find("/"), nullptr);
  EXPECT_NE(files.Find("/")->body.find("scrutin"), std::string::npos);
  EXPECT_EQ(files.Find("/other.html"), nullptr);
}

TEST(DecodeUrlPathTest, DecodesAndRejects) {
  EXPECT_EQ(DecodeUrlPath("/a%20b%2F"), "/a b/");
  EXPECT_EQ(DecodeUrlPath("/plain"), "/plain");
  EXPECT_FALSE(DecodeUrlPath("/%00"));
  EXPECT_FALSE(DecodeUrlPath("/%4"));
  EXPECT_FALSE(DecodeUrlPath("/%g0"));
}

}  // namespace
}  // namespace scrutin::http

#include "core/registry.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace scrutin::core {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("scrutin_registry_test_" + std::to_string(::getpid()) + ".csv");
  }
  void TearDown() override { std::filesystem::remove(path_); }

  // Reads the whole file: rows as "nas|code|law", errors as "!<error>".
  std::vector<std::string> ReadAll(const std::string& content) {
    std::ofstream(path_, std::ios::binary) << content;
    std::vector<std::string> out;
    auto reader = RegistryReader::Open(path_);
    if (!reader.ok()) {
      out.push_back("open!" + reader.error());
      return out;
    }
    RegistryRow row;
    while (true) {
      auto r = (*reader)->Next(row);
      if (!r.ok()) {
        out.push_back("!" + r.error());
        if ((*reader)->broken()) break;
        continue;
      }
      if (!*r) break;
      out.push_back(row.nas + "|" + row.code + "|" + row.law_id);
    }
    EXPECT_EQ((*reader)->bytes_read(), (*reader)->file_size());
    return out;
  }

  std::filesystem::path path_;
};

using Rows = std::vector<std::string>;

TEST_F(RegistryTest, PlainFile) {
  EXPECT_EQ(ReadAll("nas,code,law_id\n046454286,abc123,L2025-001\n130692544,Z9Y8X7,L2025-002\n"),
            (Rows{"046454286|ABC123|L2025-001", "130692544|Z9Y8X7|L2025-002"}));
}

TEST_F(RegistryTest, CrlfBomQuotesSpacesAndBlankLines) {
  EXPECT_EQ(ReadAll("\xEF\xBB\xBFnas,code,law_id\r\n"
                    "\"046 454 286\", \"abc123\" ,L2025-001\r\n"
                    "\r\n"
                    "  130-692-544 ,Z9Y8X7,  \"L2025-002\"\r\n"
                    "\n"),
            (Rows{"046454286|ABC123|L2025-001", "130692544|Z9Y8X7|L2025-002"}));
}

TEST_F(RegistryTest, LastLineWithoutNewline) {
  EXPECT_EQ(ReadAll("nas,code,law_id\n046454286,abc123,L2025-001"),
            (Rows{"046454286|ABC123|L2025-001"}));
}

TEST_F(RegistryTest, ColumnsInAnyOrder) {
  EXPECT_EQ(ReadAll("LAW_ID,Code,NAS\nL2025-001,abc123,046454286\n"),
            (Rows{"046454286|ABC123|L2025-001"}));
}

TEST_F(RegistryTest, BadRowsNameTheLineAndReasonNotTheContent) {
  auto rows = ReadAll(
      "nas,code,law_id\n"
      "046454286,abc123,L2025-001\n"       // line 2
      "046454287,abc123,L2025-001\n"       // line 3: checksum
      "\n"                                 // line 4: blank, skipped
      "046454286,abc12,L2025-1\n"          // line 5: code and law
      "046454286,abc123\n"                 // line 6: two fields
      "046454286,abc123,L2025-001,x\n"     // line 7: four fields
      ",abc123,L2025-001\n"                // line 8: missing nas
      "\"046454286,abc123,L2025-001\n"     // line 9: unterminated quote
      "\"046454286\"x,abc123,L2025-001\n"  // line 10: text after quote
      "130692544,Z9Y8X7,L2025-002\n");     // line 11
  EXPECT_EQ(rows, (Rows{"046454286|ABC123|L2025-001", "!line 3: nas: checksum",
                        "!line 5: code: format, law_id: format",
                        "!line 6: expected 3 fields (nas,code,law_id), found 2",
                        "!line 7: expected 3 fields (nas,code,law_id), found 4",
                        "!line 8: nas: missing", "!line 9: malformed quoted field",
                        "!line 10: malformed quoted field", "130692544|Z9Y8X7|L2025-002"}));
  for (const auto& r : rows) {
    if (r[0] == '!') {
      EXPECT_EQ(r.find("04645428"), std::string::npos) << r;
    }
  }
}

TEST_F(RegistryTest, OverlongLineIsSkippedAndReported) {
  std::string content = "nas,code,law_id\n046454286,abc123,L2025-001\n";
  content += std::string(3 << 20, 'x') + "\n";  // spans several read buffers
  content += "130692544,Z9Y8X7,L2025-002\n";
  content += std::string(5000, 'y');  // overlong and unterminated at the end
  EXPECT_EQ(ReadAll(content),
            (Rows{"046454286|ABC123|L2025-001", "!line 3: line longer than 4096 bytes",
                  "130692544|Z9Y8X7|L2025-002", "!line 5: line longer than 4096 bytes"}));
}

TEST_F(RegistryTest, ManyRowsAcrossBuffers) {
  std::string content = "nas,code,law_id\n";
  for (int i = 0; i < 100000; ++i) content += "046454286,abc123,L2025-001\r\n";
  auto rows = ReadAll(content);
  ASSERT_EQ(rows.size(), 100000u);
  EXPECT_EQ(rows.back(), "046454286|ABC123|L2025-001");
}

TEST_F(RegistryTest, HeaderErrors) {
  EXPECT_EQ(ReadAll(""), (Rows{"open!the file is empty (expected the header nas,code,law_id)"}));
  EXPECT_EQ(ReadAll("046454286,abc123,L2025-001\n"),
            (Rows{"open!line 1: expected the header nas,code,law_id"}));
  EXPECT_EQ(ReadAll("nas,code\n"), (Rows{"open!line 1: expected the header nas,code,law_id"}));
  EXPECT_EQ(ReadAll("nas,nas,law_id\n"),
            (Rows{"open!line 1: expected the header nas,code,law_id"}));
  auto missing = RegistryReader::Open(path_.string() + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("No such file"), std::string::npos);
  auto dir = RegistryReader::Open(std::filesystem::temp_directory_path());
  EXPECT_FALSE(dir.ok());
}

}  // namespace
}  // namespace scrutin::core

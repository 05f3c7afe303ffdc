#include "core/record.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace scrutin::core {
namespace {

RecordContent Content(const std::string& receipts_text, std::uint64_t count) {
  RecordContent c;
  c.law_id = "L2025-001";
  c.opens_at = *ParseTimestamp("2026-11-01T00:00:00Z");
  c.closes_at = *ParseTimestamp("2026-11-02T00:00:00Z");
  c.sealed_at = *ParseTimestamp("2026-11-02T00:00:06Z");
  c.oui = 2;
  c.non = 1;
  c.reconciliation = {3, 3, 3, 3, 3};
  c.receipt_count = count;
  c.receipts_sha256 = Sha256Hex(receipts_text);
  return c;
}

bool Mentions(const std::vector<std::string>& problems, std::string_view what) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(what) != std::string::npos; });
}

class RecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = RecordSigner::Generate();
    ASSERT_TRUE(s.ok()) << s.error();
    signer_ = std::make_unique<RecordSigner>(std::move(*s));
    receipts_ = ReceiptsText({"CCCC-CCCC-CCCC-CCCC", "AAAA-AAAA-AAAA-AAAA", "BBBB-BBBB-BBBB-BBBB"});
    auto r = SignedRecord(Content(receipts_, 3), *signer_);
    ASSERT_TRUE(r.ok()) << r.error();
    record_ = *r;
  }
  std::unique_ptr<RecordSigner> signer_;
  std::string receipts_;
  nlohmann::json record_;
};

TEST(RecordFormat, ReceiptsAreSortedUniqueOnePerLine) {
  EXPECT_EQ(ReceiptsText({"B", "A", "B"}), "A\nB\n");
  EXPECT_EQ(ReceiptsText({}), "");
}

TEST(RecordFormat, CanonicalJsonIsWhatPythonSortKeysCompactWrites) {
  // json.dumps({"b": 1, "a": {"d": [1, 2], "c": "é"}}, sort_keys=True, separators=(",", ":"),
  //            ensure_ascii=False)
  nlohmann::json j = {{"b", 1}, {"a", {{"d", {1, 2}}, {"c", "\xc3\xa9"}}}};
  EXPECT_EQ(CanonicalJson(j), "{\"a\":{\"c\":\"\xc3\xa9\",\"d\":[1,2]},\"b\":1}");
}

TEST(RecordFormat, Sha256OfTheEmptyListIsTheKnownOne) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(RecordFormat, VerifiesTheRfc8032TestVector) {
  // RFC 8032 section 7.1, TEST 1 (empty message).
  const std::string pub = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
  const std::string sig =
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701c"
      "f9b46bd25bf5f0595bbe24655141438e7a100b";
  EXPECT_TRUE(VerifyEd25519(pub, "", sig));
  EXPECT_FALSE(VerifyEd25519(pub, "x", sig));
  EXPECT_FALSE(VerifyEd25519(pub.substr(2), "", sig));
}

TEST(RecordKey, RoundTripsThroughPem) {
  auto a = RecordSigner::Generate();
  ASSERT_TRUE(a.ok());
  auto pem = a->PrivatePem();
  ASSERT_TRUE(pem.ok());
  EXPECT_NE(pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  auto b = RecordSigner::FromPem(*pem);
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(a->PublicKeyHex(), b->PublicKeyHex());
  EXPECT_EQ(a->PublicKeyHex().size(), kRecordPublicKeyHexChars);
  auto sig = b->SignHex("message");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), kRecordSignatureHexChars);
  EXPECT_TRUE(VerifyEd25519(a->PublicKeyHex(), "message", *sig));
}

TEST(RecordKey, RefusesWhatIsNotAnEd25519PemKey) {
  auto bad = RecordSigner::FromPem("not a key");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), ErrorCode::kCorrupt);
  EXPECT_EQ(bad.error().find("not a key"), std::string::npos);
}

TEST_F(RecordTest, HasTheShapeOfTheApi) {
  for (const char* key : {"law_id", "opens_at", "closes_at", "sealed_at", "tally",
                          "reconciliation", "receipts", "signature"}) {
    EXPECT_TRUE(record_.contains(key)) << key;
  }
  EXPECT_EQ(record_["tally"]["total"], 3);
  EXPECT_EQ(record_["receipts"]["url"], "/api/v1/record/L2025-001/receipts");
  EXPECT_EQ(record_["signature"]["algorithm"], "ed25519");
  EXPECT_FALSE(record_["reconciliation"].contains("differences"));
}

TEST_F(RecordTest, AnHonestRecordVerifies) {
  EXPECT_TRUE(VerifyRecord(record_, receipts_).empty());
  EXPECT_TRUE(VerifyRecord(record_, receipts_, signer_->PublicKeyHex()).empty());
  // Key order and whitespace of the copy do not matter: the canonical form is signed.
  auto reparsed = nlohmann::json::parse(record_.dump(2));
  EXPECT_TRUE(VerifyRecord(reparsed, receipts_).empty());
}

TEST_F(RecordTest, AChangedTallyBreaksTheSignature) {
  record_["tally"]["oui"] = 3;
  record_["tally"]["total"] = 4;
  auto problems = VerifyRecord(record_, receipts_);
  EXPECT_TRUE(Mentions(problems, "signature does not match")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(Mentions(problems, "reconciliation.tallied is 3, tally.total is 4"));
}

TEST_F(RecordTest, ADroppedReceiptIsFound) {
  std::string dropped = receipts_.substr(receipts_.find('\n') + 1);
  auto problems = VerifyRecord(record_, dropped);
  EXPECT_TRUE(Mentions(problems, "SHA-256")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(Mentions(problems, "has 2 receipts, the record says 3"));
}

TEST_F(RecordTest, AFlippedSignatureByteIsFound) {
  std::string v = record_["signature"]["value"];
  v[10] = v[10] == '0' ? '1' : '0';
  record_["signature"]["value"] = v;
  EXPECT_TRUE(Mentions(VerifyRecord(record_, receipts_), "signature does not match"));
}

TEST_F(RecordTest, AnotherKeyIsNotTheElectionsKey) {
  auto other = RecordSigner::Generate();
  ASSERT_TRUE(other.ok());
  auto forged = SignedRecord(Content(receipts_, 3), *other);
  ASSERT_TRUE(forged.ok());
  EXPECT_TRUE(VerifyRecord(*forged, receipts_).empty());  // self-consistent...
  EXPECT_TRUE(Mentions(VerifyRecord(*forged, receipts_, signer_->PublicKeyHex()),
                       "not by the election's published record key"));  // ...but not ours
}

TEST_F(RecordTest, UnsortedOrDuplicatedReceiptsAreFound) {
  const std::string unsorted = "BBBB\nAAAA\n";
  auto c = Content(unsorted, 2);
  c.reconciliation = {2, 2, 2, 2, 2};
  c.oui = 2;
  c.non = 0;
  auto r = SignedRecord(c, *signer_);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Mentions(VerifyRecord(*r, unsorted), "not sorted"));
  EXPECT_TRUE(Mentions(VerifyRecord(*r, "AAAA\nAAAA\n"), "twice"));
  EXPECT_TRUE(Mentions(VerifyRecord(*r, "AAAA\nBBBB"), "newline"));
}

TEST_F(RecordTest, AReconciliationDifferenceIsPublishedAndFlagged) {
  auto c = Content(receipts_, 3);
  c.reconciliation = {4, 4, 3, 3, 3};  // a late ballot: accepted and claimed, not counted
  auto r = SignedRecord(c, *signer_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["reconciliation"]["differences"],
            (nlohmann::json{{"ballots", -1}, {"receipts", -1}, {"tallied", -1}}));
  auto problems = VerifyRecord(*r, receipts_);
  EXPECT_FALSE(Mentions(problems, "signature"));
  EXPECT_TRUE(Mentions(problems, "3 ballots but 4 accepted votes (difference -1)"));
}

TEST_F(RecordTest, AMissingMemberIsNamed) {
  record_.erase("tally");
  EXPECT_TRUE(Mentions(VerifyRecord(record_, receipts_), "tally.oui is missing"));
}

}  // namespace
}  // namespace scrutin::core

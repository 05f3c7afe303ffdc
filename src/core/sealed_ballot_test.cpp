#include "core/sealed_ballot.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/request_id.hpp"

namespace scrutin::core {
namespace {

std::vector<std::uint8_t> Key(std::uint8_t fill) { return std::vector<std::uint8_t>(32, fill); }

BallotSealer Sealer(std::uint8_t fill = 7) { return BallotSealer::Create(Key(fill)).value(); }

TEST(SealedBallotTest, OpensToWhatWasSealed) {
  const BallotSealer sealer = Sealer();
  const std::string receipt = Receipt(RequestId::Generate());
  for (Choice choice : {Choice::kOui, Choice::kNon}) {
    auto sealed = sealer.Seal("L2025-001", choice, receipt);
    ASSERT_TRUE(sealed.ok()) << sealed.error();
    auto opened = sealer.Open("L2025-001", *sealed);
    ASSERT_TRUE(opened.ok()) << opened.error();
    EXPECT_EQ(opened->choice, choice);
    EXPECT_EQ(opened->receipt, receipt);
  }
}

TEST(SealedBallotTest, EverySealedBallotHasTheSameSizeAndNoVisibleContent) {
  const BallotSealer sealer = Sealer();
  const std::string receipt = Receipt(RequestId::Generate());
  std::set<SealedBallot> seen;
  for (int i = 0; i < 50; ++i) {
    auto sealed = sealer.Seal("L2025-001", i % 2 ? Choice::kOui : Choice::kNon, receipt);
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(sealed->size(), kSealedBallotSize);
    seen.insert(*sealed);
    // The receipt never appears in clear.
    const std::string bytes(sealed->begin(), sealed->end());
    EXPECT_EQ(bytes.find(receipt.substr(0, 4)), std::string::npos);
  }
  EXPECT_EQ(seen.size(), 50u);  // a fresh nonce each time: the same vote never seals the same
}

TEST(SealedBallotTest, ATamperedBallotAnotherKeyOrAnotherLawDoesNotOpen) {
  const BallotSealer sealer = Sealer(7);
  auto sealed = sealer.Seal("L2025-001", Choice::kOui, Receipt(RequestId::Generate()));
  ASSERT_TRUE(sealed.ok());
  for (std::size_t i = 0; i < sealed->size(); ++i) {
    SealedBallot bad = *sealed;
    bad[i] ^= 0x01;
    auto opened = sealer.Open("L2025-001", bad);
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.code(), ErrorCode::kCorrupt);
  }
  EXPECT_EQ(Sealer(8).Open("L2025-001", *sealed).code(), ErrorCode::kCorrupt);
  EXPECT_EQ(sealer.Open("L2025-002", *sealed).code(), ErrorCode::kCorrupt);
  EXPECT_EQ(sealer.Open("L2025-001", std::span(sealed->data(), sealed->size() - 1)).code(),
            ErrorCode::kCorrupt);
}

TEST(SealedBallotTest, RefusesAKeyOrReceiptOfTheWrongSize) {
  auto short_key = BallotSealer::Create(std::vector<std::uint8_t>(31, 1));
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.code(), ErrorCode::kRefused);
  EXPECT_EQ(Sealer().Seal("L2025-001", Choice::kOui, "ABCD").code(), ErrorCode::kRefused);
}

}  // namespace
}  // namespace scrutin::core

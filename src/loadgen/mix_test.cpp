#include "loadgen/mix.hpp"

#include <gtest/gtest.h>

#include <random>

namespace scrutin::loadgen {
namespace {

TEST(LoadgenMix, ParsesTheDocumentedExample) {
  auto mix = Mix::Parse("valid=0.9,duplicate=0.05,invalid=0.03,malformed=0.02");
  ASSERT_TRUE(mix.ok()) << mix.error();
  EXPECT_DOUBLE_EQ(mix->share(RequestKind::kValid), 0.9);
  EXPECT_DOUBLE_EQ(mix->share(RequestKind::kDuplicate), 0.05);
  EXPECT_DOUBLE_EQ(mix->share(RequestKind::kInvalid), 0.03);
  EXPECT_DOUBLE_EQ(mix->share(RequestKind::kMalformed), 0.02);
  EXPECT_EQ(mix->ToString(), "valid=0.9,duplicate=0.05,invalid=0.03,malformed=0.02");
}

TEST(LoadgenMix, KindsNotNamedAreZeroAndSpacesAreAllowed) {
  auto mix = Mix::Parse(" malformed = 0.5 , invalid=0.5 ");
  ASSERT_TRUE(mix.ok()) << mix.error();
  EXPECT_EQ(mix->share(RequestKind::kValid), 0.0);
  EXPECT_EQ(mix->share(RequestKind::kDuplicate), 0.0);
  EXPECT_EQ(mix->share(RequestKind::kInvalid), 0.5);
}

TEST(LoadgenMix, DefaultIsAllValid) {
  Mix mix;
  EXPECT_EQ(mix.share(RequestKind::kValid), 1.0);
  EXPECT_EQ(mix.Pick(0.999999), RequestKind::kValid);
}

TEST(LoadgenMix, RejectsBadInputWithAClearMessage) {
  struct Case {
    const char* text;
    const char* needle;
  };
  for (const Case& c :
       {Case{"", "empty"}, Case{"valid", "kind=share"},
        Case{"valid=0.5,bogus=0.5", "unknown kind 'bogus'"}, Case{"valid=0.5,valid=0.5", "twice"},
        Case{"valid=abc", "number"}, Case{"valid=1.5", "number in [0, 1]"},
        Case{"valid=-0.1,invalid=1.1", "[0, 1]"}, Case{"valid=0.5,invalid=0.4", "add up to"},
        Case{"valid=0.9x", "number"}, Case{"valid=nan", "number"},
        Case{"duplicate=0.5,invalid=0.5", "duplicate needs a valid share"}}) {
    auto mix = Mix::Parse(c.text);
    ASSERT_FALSE(mix.ok()) << c.text;
    EXPECT_NE(mix.error().find(c.needle), std::string::npos) << c.text << " -> " << mix.error();
  }
}

TEST(LoadgenMix, PickSlicesTheUnitIntervalInOrder) {
  auto mix = Mix::Parse("valid=0.9,duplicate=0.05,invalid=0.03,malformed=0.02");
  ASSERT_TRUE(mix.ok());
  EXPECT_EQ(mix->Pick(0.0), RequestKind::kValid);
  EXPECT_EQ(mix->Pick(0.8999), RequestKind::kValid);
  EXPECT_EQ(mix->Pick(0.9001), RequestKind::kDuplicate);
  EXPECT_EQ(mix->Pick(0.951), RequestKind::kInvalid);
  EXPECT_EQ(mix->Pick(0.99), RequestKind::kMalformed);
  EXPECT_EQ(mix->Pick(0.99999999), RequestKind::kMalformed);
  // A kind with share 0 is never picked, even at the edges.
  auto no_dup = Mix::Parse("valid=0.5,malformed=0.5");
  ASSERT_TRUE(no_dup.ok());
  EXPECT_EQ(no_dup->Pick(0.5), RequestKind::kMalformed);
  EXPECT_EQ(no_dup->Pick(0.9999999999), RequestKind::kMalformed);
}

TEST(LoadgenMix, PickFrequenciesFollowTheShares) {
  auto mix = Mix::Parse("valid=0.7,duplicate=0.1,invalid=0.15,malformed=0.05");
  ASSERT_TRUE(mix.ok());
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::array<int, kRequestKinds> counts{};
  constexpr int kDraws = 200'000;
  for (int i = 0; i < kDraws; ++i) ++counts[static_cast<std::size_t>(mix->Pick(u(rng)))];
  for (std::size_t k = 0; k < kRequestKinds; ++k) {
    EXPECT_NEAR(counts[k] / static_cast<double>(kDraws), mix->share(static_cast<RequestKind>(k)),
                0.005)
        << ToString(static_cast<RequestKind>(k));
  }
}

}  // namespace
}  // namespace scrutin::loadgen

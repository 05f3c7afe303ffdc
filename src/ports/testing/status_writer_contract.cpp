// What every StatusWriter must do (ports/status_writer.hpp).
#include "ports/testing/status_writer_contract.hpp"

#include <chrono>
#include <vector>

namespace scrutin::ports::testing {
namespace {

using core::VoteStatus;

StatusUpdate Update(const core::RequestId& id, const char* law, VoteStatus status,
                    std::uint32_t attempts) {
  StatusUpdate u;
  u.id = id;
  u.record = StatusRecord{law, status, attempts};
  return u;
}

}  // namespace

// Every adapter's test binary links all the contract suites and instantiates only its port's.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StatusWriterContract);

void StatusWriterContract::SetUp() {
  store_ = GetParam().make();
  ASSERT_NE(store_, nullptr) << GetParam().name << ": no store";
}

std::optional<StatusRecord> StatusWriterContract::Read(const core::RequestId& id) {
  auto found = store_->queries().FindStatus(id);
  EXPECT_TRUE(found.ok()) << found.error();
  return found.ok() ? *found : std::nullopt;
}

TEST_P(StatusWriterContract, WrittenStatusesAreReadBack) {
  auto a = core::RequestId::Generate();
  auto b = core::RequestId::Generate();
  std::vector<StatusUpdate> updates = {Update(a, "L2025-001", VoteStatus::kAccepted, 1),
                                       Update(b, "L2025-002", VoteStatus::kDuplicate, 4)};
  auto st = store_->writer().Write(updates, /*only_if_absent=*/false);
  ASSERT_TRUE(st.ok()) << st.error();
  auto ra = Read(a);
  ASSERT_TRUE(ra.has_value());
  EXPECT_EQ(ra->law_id, "L2025-001");
  EXPECT_EQ(ra->status, VoteStatus::kAccepted);
  EXPECT_EQ(ra->attempt_count, 1u);
  auto rb = Read(b);
  ASSERT_TRUE(rb.has_value());
  EXPECT_EQ(rb->status, VoteStatus::kDuplicate);
  EXPECT_EQ(rb->attempt_count, 4u);
  EXPECT_FALSE(Read(core::RequestId::Generate()).has_value());
}

TEST_P(StatusWriterContract, OnlyIfAbsentNeverOverwritesAFinalStatus) {
  auto decided = core::RequestId::Generate();
  auto fresh = core::RequestId::Generate();
  std::vector<StatusUpdate> final_status = {Update(decided, "L2025-001", VoteStatus::kInvalid, 1)};
  ASSERT_TRUE(store_->writer().Write(final_status, false).ok());
  std::vector<StatusUpdate> pending = {Update(decided, "L2025-001", VoteStatus::kPending, 0),
                                       Update(fresh, "L2025-001", VoteStatus::kPending, 0)};
  auto st = store_->writer().Write(pending, /*only_if_absent=*/true);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(Read(decided).value_or(StatusRecord{}).status, VoteStatus::kInvalid);
  EXPECT_EQ(Read(fresh).value_or(StatusRecord{}).status, VoteStatus::kPending);
  // The final status written afterwards replaces `pending`.
  std::vector<StatusUpdate> decide = {Update(fresh, "L2025-001", VoteStatus::kAccepted, 1)};
  ASSERT_TRUE(store_->writer().Write(decide, false).ok());
  EXPECT_EQ(Read(fresh).value_or(StatusRecord{}).status, VoteStatus::kAccepted);
}

TEST_P(StatusWriterContract, WritingTheSameUpdatesAgainIsSafe) {
  auto id = core::RequestId::Generate();
  std::vector<StatusUpdate> updates = {Update(id, "L2025-002", VoteStatus::kDuplicate, 2)};
  ASSERT_TRUE(store_->writer().Write(updates, false).ok());
  ASSERT_TRUE(store_->writer().Write(updates, false).ok());
  auto r = Read(id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, VoteStatus::kDuplicate);
  EXPECT_EQ(r->attempt_count, 2u);
}

}  // namespace scrutin::ports::testing

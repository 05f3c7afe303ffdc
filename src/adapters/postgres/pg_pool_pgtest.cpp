// The connection pool against a real PostgreSQL: bounds, health checks, dropped connections,
// backoff after failures, and error messages that never carry the password.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "adapters/postgres/pg_pool.hpp"
#include "adapters/postgres/pg_test_support.hpp"

namespace scrutin::postgres {
namespace {

using testing::PgSchemaTest;

// A loopback port nobody listens on (bound then closed).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class PgPoolTest : public PgSchemaTest {};

TEST_F(PgPoolTest, BoundedAndCountsOpenConnections) {
  auto pool = NewPool(3);
  EXPECT_EQ(pool->ConnectionCount(), 0u);  // lazy
  std::vector<PgPool::Lease> leases;
  for (int i = 0; i < 3; ++i) {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.error();
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(pool->ConnectionCount(), 3u);

  auto options = Options();
  options.max_connections = 3;
  options.acquire_timeout = std::chrono::milliseconds(200);
  auto small = PgPool::Create(options);
  ASSERT_TRUE(small.ok());
  std::vector<PgPool::Lease> held;
  for (int i = 0; i < 3; ++i) {
    auto lease = (*small)->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.error();
    held.push_back(std::move(*lease));
  }
  auto start = std::chrono::steady_clock::now();
  auto busy = (*small)->Acquire();
  ASSERT_FALSE(busy.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
  EXPECT_NE(busy.error().find("all 3 PostgreSQL connections"), std::string::npos) << busy.error();

  // A returned connection is reused, not reopened.
  int pid = held.back()->backend_pid();
  held.pop_back();
  auto again = (*small)->Acquire();
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ((*again)->backend_pid(), pid);
  EXPECT_EQ((*small)->ConnectionCount(), 3u);
}

TEST_F(PgPoolTest, WaitersGetReturnedConnections) {
  auto pool = NewPool(2);
  std::atomic<int> in_use{0}, peak{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        auto lease = pool->Acquire();
        if (!lease) {
          ++failures;
          continue;
        }
        int now = ++in_use;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        if (!(*lease)->ExecScript("SELECT 1")) ++failures;
        --in_use;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(peak.load(), 2);
  EXPECT_LE(pool->ConnectionCount(), 2u);
}

TEST_F(PgPoolTest, KilledConnectionFailsWithServerMessageThenIsReplaced) {
  auto pool = NewPool(2);
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease.ok());
  int pid = (*lease)->backend_pid();
  ASSERT_EQ(KillBackends(), 1);

  auto r = (*lease)->ExecScript("SELECT 1");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().connection_lost);
  EXPECT_NE(r.error().message.find("terminating connection"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE((*lease)->ok());
  *lease = {};  // returned broken: dropped, not pooled
  EXPECT_EQ(pool->ConnectionCount(), 0u);

  auto fresh = pool->Acquire();
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  EXPECT_NE((*fresh)->backend_pid(), pid);
  EXPECT_TRUE((*fresh)->ExecScript("SELECT 1").ok());
}

TEST_F(PgPoolTest, IdleConnectionKilledIsHealthCheckedAndReplaced) {
  auto options = Options();
  options.health_check_after_idle = std::chrono::milliseconds(0);
  auto pool = *PgPool::Create(options);
  int pid = 0;
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.ok());
    pid = (*lease)->backend_pid();
  }
  ASSERT_EQ(KillBackends(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease.ok()) << lease.error();
  EXPECT_NE((*lease)->backend_pid(), pid);
  EXPECT_TRUE((*lease)->ExecScript("SELECT 1").ok());
  EXPECT_EQ(pool->ConnectionCount(), 1u);
}

TEST_F(PgPoolTest, LeaseReturnedInsideATransactionIsRolledBack) {
  auto pool = NewPool(1);
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE((*lease)->ExecScript("BEGIN; CREATE TABLE half_done (x int)").ok());
  }
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE((*lease)->idle());
  auto r = (*lease)->ExecScript("SELECT to_regclass('half_done') IS NULL");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Text(0, 0), "t");
}

TEST_F(PgPoolTest, UnreachableServerFailsFastThenBacksOff) {
  auto options = Options();
  auto target = *ParsePgTarget(url_);
  std::string password = target.password;
  ASSERT_FALSE(password.empty());
  options.url = "postgresql://scrutin:" + password + "@127.0.0.1:" + std::to_string(ClosedPort()) +
                "/scrutin";
  options.backoff_initial = std::chrono::milliseconds(300);
  auto pool = *PgPool::Create(options);

  auto first = pool->Acquire();
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().find("cannot connect to scrutin@127.0.0.1:"), std::string::npos)
      << first.error();
  EXPECT_EQ(first.error().find(password), std::string::npos) << "password leaked";

  auto start = std::chrono::steady_clock::now();
  auto second = pool->Acquire();
  ASSERT_FALSE(second.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_NE(second.error().find("next connection attempt in"), std::string::npos) << second.error();
  EXPECT_EQ(second.error().find(password), std::string::npos);
  EXPECT_EQ(pool->ConnectionCount(), 0u);
}

TEST_F(PgPoolTest, WrongPasswordIsReportedWithoutEchoingIt) {
  auto options = Options();
  auto target = *ParsePgTarget(url_);
  const std::string wrong = "not-the-password-5e1f";
  std::string url = url_;
  url.replace(url.find(target.password), target.password.size(), wrong);
  options.url = url;
  auto pool = *PgPool::Create(options);
  auto r = pool->Acquire();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("password authentication failed"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find(wrong), std::string::npos) << r.error();
  EXPECT_FALSE(pool->Warm().ok());
}

TEST(PgTargetTest, MalformedUrlIsRefusedWithoutEchoingIt) {
  auto r = ParsePgTarget("postgresql://scrutin:s3cret-pw@[::1/scrutin?sslmode=bogus%zz");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().find("s3cret-pw"), std::string::npos) << r.error();
  PgPoolOptions options;
  options.url = "postgresql://x:s3cret-pw@[::1";
  auto pool = PgPool::Create(options);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.error().find("s3cret-pw"), std::string::npos) << pool.error();
}

TEST(PgTargetTest, DisplayOmitsThePassword) {
  auto r = ParsePgTarget("postgresql://scrutin:s3cret-pw@127.0.0.1:5433/votes");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->display, "scrutin@127.0.0.1:5433/votes");
  EXPECT_EQ(r->password, "s3cret-pw");
}

}  // namespace
}  // namespace scrutin::postgres

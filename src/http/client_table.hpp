// ClientTable: what the front door remembers about each client address, so that one client's
// excess is refused without touching anyone else's allowance (API contract, "Limits are fair").
//
// Per client it keeps two token buckets (GCRA form: one "theoretical arrival time" each) — one for
// writes (POST: votes), one for reads (GET/HEAD: statuses, results, pages) — and the number of TCP
// connections open from that address. A client is an IPv4 address, or an IPv6 /64 (the smallest
// block a subscriber is usually given: keying on the full address would let one host rotate
// through 2^64 identities).
//
// Memory is fixed at construction whatever the number of clients: a set-associative table of
// kWays entries per bucket, 40 bytes an entry (~26,000 clients per MiB; nginx's limit_req keeps
// 128 bytes an address, ~8,000 per MiB). A new client takes the least recently seen entry of its
// bucket that has no open connection; an entry with open connections is never evicted, so the
// per-client connection cap cannot be escaped by churning the table. Evicting an idle client
// forgets its debt: a flooder must keep flooding to stay limited, and then it stays recent. The
// bucket is chosen by a keyed hash (a random key per process), so no one can aim clients at one
// bucket.
//
// Malformed requests cost more: Charge() takes extra tokens from a bucket (the server charges
// each 400/413/415/431 it answers), so garbage exhausts its sender's allowance faster than votes.
//
// Thread-safety: every method may be called from any thread; buckets are guarded by striped locks.
// Private to src/http: other modules use its public headers.
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/mutex.hpp"

namespace scrutin::http {

// A client's identity in the table: 16 bytes (IPv4 as ::ffff:a.b.c.d, IPv6 masked to its /64).
struct ClientKey {
  std::array<std::uint8_t, 16> bytes{};
  static ClientKey From(const boost::asio::ip::address& address);
  bool operator==(const ClientKey&) const = default;
};

struct ClientLimits {
  // Writes (POST) and reads (GET/HEAD) per second per client, and the burst admitted at once
  // after a quiet period. A rate of 0 disables that bucket.
  double write_rate = 200;
  double write_burst = 2000;
  double read_rate = 1000;
  double read_burst = 5000;
  // Open connections per client address (0: no cap).
  std::uint32_t max_connections = 512;
  // Table memory; the number of clients tracked is memory_bytes / kEntryBytes (at least one
  // bucket).
  std::size_t memory_bytes = 8 << 20;
};

class ClientTable {
 public:
  enum class Bucket : std::uint8_t { kWrite, kRead };
  using Clock = std::chrono::steady_clock;

  static constexpr std::size_t kWays = 8;
  static constexpr std::size_t kEntryBytes = 40;

  explicit ClientTable(ClientLimits limits);
  ClientTable(const ClientTable&) = delete;
  ClientTable& operator=(const ClientTable&) = delete;

  struct Decision {
    bool allowed = true;
    // When refused: how long until `cost` tokens are available again (at least 1 ms).
    std::chrono::nanoseconds retry_after{0};
  };

  // Takes `cost` tokens from the client's bucket if it has them; refused otherwise (and nothing is
  // taken, so a refused request costs its sender nothing more than the refusal).
  Decision Admit(const ClientKey& client, Bucket bucket, double cost = 1,
                 Clock::time_point now = Clock::now());

  // Takes `cost` tokens whether or not the client has them (its debt grows up to one burst beyond
  // empty): the price of a malformed request, already answered.
  void Charge(const ClientKey& client, Bucket bucket, double cost,
              Clock::time_point now = Clock::now());

  // Counts one more connection from `client`. False (and nothing counted) when the client already
  // has max_connections open, or when its bucket is full of clients with open connections.
  bool OpenConnection(const ClientKey& client, Clock::time_point now = Clock::now());
  // REQUIRES: a matching successful OpenConnection.
  void CloseConnection(const ClientKey& client);

  // Open connections of `client` (0 if not tracked). For tests and diagnostics.
  std::uint32_t connections(const ClientKey& client) const;

  std::size_t capacity() const { return buckets_ * kWays; }
  const ClientLimits& limits() const { return limits_; }

 private:
  struct Entry {
    std::array<std::uint8_t, 16> key;
    std::int64_t write_tat;  // ns since the clock's epoch; 0 = full bucket
    std::int64_t read_tat;
    std::uint32_t connections;
    std::uint32_t last_seen;  // seconds since the table was made, for LRU
  };
  static_assert(sizeof(Entry) == kEntryBytes);

  struct Rate {
    std::int64_t interval_ns = 0;  // 0: disabled
    std::int64_t capacity_ns = 0;
  };

  std::size_t BucketOf(const ClientKey& key) const;
  core::Mutex& LockOf(std::size_t bucket) const { return locks_[bucket % kLocks]; }
  // REQUIRES: LockOf(bucket) held (a lock chosen at run time: the analysis cannot check it). The
  // entry of `key`, created if `create` (evicting the least recently seen entry without
  // connections); nullptr when absent and not created.
  Entry* Find(std::size_t bucket, const ClientKey& key, bool create, std::uint32_t now_s);
  std::uint32_t Seconds(Clock::time_point now) const;

  static constexpr std::size_t kLocks = 256;
  const ClientLimits limits_;
  Rate write_, read_;
  std::size_t buckets_ = 1;
  std::uint64_t hash_key_[2];
  Clock::time_point epoch_;
  // buckets_ * kWays entries; bucket b's are guarded by LockOf(b), which clang's analysis cannot
  // express (the lock is chosen at run time), so every access is within a MutexLock on LockOf(b).
  std::unique_ptr<Entry[]> entries_;
  mutable std::unique_ptr<core::Mutex[]> locks_;
};

}  // namespace scrutin::http

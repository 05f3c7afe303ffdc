#include "http/client_table.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace scrutin::http {

namespace {

// A 64-bit finaliser (splitmix64's): every input bit affects every output bit.
std::uint64_t Mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

std::int64_t Nanos(ClientTable::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

ClientKey ClientKey::From(const boost::asio::ip::address& address) {
  ClientKey k;
  if (address.is_v4()) {
    auto v4 = address.to_v4().to_bytes();
    k.bytes[10] = 0xff;
    k.bytes[11] = 0xff;
    std::memcpy(k.bytes.data() + 12, v4.data(), 4);
    return k;
  }
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return From(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
  }
  auto b = v6.to_bytes();
  std::memcpy(k.bytes.data(), b.data(), 8);  // the /64; the interface half is the host's choice
  return k;
}

ClientTable::ClientTable(ClientLimits limits) : limits_(limits), epoch_(Clock::now()) {
  auto rate = [](double per_second, double burst) {
    Rate r;
    if (!(per_second > 0) || !std::isfinite(per_second)) return r;
    r.interval_ns = std::max<std::int64_t>(1, std::llround(1e9 / per_second));
    if (!(burst >= 1)) burst = std::max(1.0, per_second);
    r.capacity_ns = static_cast<std::int64_t>(std::floor(burst)) * r.interval_ns;
    return r;
  };
  write_ = rate(limits_.write_rate, limits_.write_burst);
  read_ = rate(limits_.read_rate, limits_.read_burst);
  buckets_ = std::max<std::size_t>(1, limits_.memory_bytes / (kEntryBytes * kWays));
  entries_ = std::make_unique<Entry[]>(buckets_ * kWays);  // zeroed: every slot free
  locks_ = std::make_unique<core::Mutex[]>(kLocks);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(hash_key_), sizeof hash_key_) != 1) {
    // No randomness means a predictable bucket choice, not a broken limit: use the clock.
    hash_key_[0] = static_cast<std::uint64_t>(Nanos(epoch_));
    hash_key_[1] = Mix(hash_key_[0]);
  }
}

std::size_t ClientTable::BucketOf(const ClientKey& key) const {
  std::uint64_t hi, lo;
  std::memcpy(&hi, key.bytes.data(), 8);
  std::memcpy(&lo, key.bytes.data() + 8, 8);
  return static_cast<std::size_t>(Mix(Mix(hi ^ hash_key_[0]) ^ lo ^ hash_key_[1]) % buckets_);
}

std::uint32_t ClientTable::Seconds(Clock::time_point now) const {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(now - epoch_).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(s + 1, 1, UINT32_MAX));
}

ClientTable::Entry* ClientTable::Find(std::size_t bucket, const ClientKey& key, bool create,
                                      std::uint32_t now_s) {
  Entry* ways = &entries_[bucket * kWays];
  Entry* victim = nullptr;
  for (std::size_t i = 0; i < kWays; ++i) {
    Entry& e = ways[i];
    if (e.last_seen != 0 && e.key == key.bytes) {
      e.last_seen = now_s;
      return &e;
    }
    if (e.connections == 0 && (victim == nullptr || e.last_seen < victim->last_seen)) victim = &e;
  }
  if (!create || victim == nullptr) return nullptr;
  *victim = Entry{key.bytes, 0, 0, 0, now_s};
  return victim;
}

ClientTable::Decision ClientTable::Admit(const ClientKey& client, Bucket bucket, double cost,
                                         Clock::time_point now) {
  const Rate& rate = bucket == Bucket::kWrite ? write_ : read_;
  if (rate.interval_ns == 0) return {};
  const std::int64_t t = Nanos(now);
  const std::int64_t price = std::max<std::int64_t>(
      1, std::llround(std::max(cost, 0.0) * static_cast<double>(rate.interval_ns)));
  const std::size_t b = BucketOf(client);
  core::MutexLock lock(LockOf(b));
  Entry* e = Find(b, client, /*create=*/true, Seconds(now));
  if (e == nullptr) return {};  // every way holds a connected client: admit rather than refuse
  std::int64_t& tat = bucket == Bucket::kWrite ? e->write_tat : e->read_tat;
  const std::int64_t next = std::max(tat, t) + price;
  if (next - t > rate.capacity_ns) {
    return {false, std::chrono::nanoseconds(
                       std::max<std::int64_t>(next - t - rate.capacity_ns, 1'000'000))};
  }
  tat = next;
  return {};
}

void ClientTable::Charge(const ClientKey& client, Bucket bucket, double cost,
                         Clock::time_point now) {
  const Rate& rate = bucket == Bucket::kWrite ? write_ : read_;
  if (rate.interval_ns == 0 || !(cost > 0)) return;
  const std::int64_t t = Nanos(now);
  const std::int64_t price = std::llround(cost * static_cast<double>(rate.interval_ns));
  const std::size_t b = BucketOf(client);
  core::MutexLock lock(LockOf(b));
  Entry* e = Find(b, client, /*create=*/true, Seconds(now));
  if (e == nullptr) return;
  std::int64_t& tat = bucket == Bucket::kWrite ? e->write_tat : e->read_tat;
  // The debt is bounded (one burst beyond empty) so that a client that stops recovers in time.
  tat = std::min(std::max(tat, t) + price, t + 2 * rate.capacity_ns);
}

bool ClientTable::OpenConnection(const ClientKey& client, Clock::time_point now) {
  const std::size_t b = BucketOf(client);
  core::MutexLock lock(LockOf(b));
  Entry* e = Find(b, client, /*create=*/true, Seconds(now));
  if (e == nullptr) return false;
  if (limits_.max_connections != 0 && e->connections >= limits_.max_connections) return false;
  ++e->connections;
  return true;
}

void ClientTable::CloseConnection(const ClientKey& client) {
  const std::size_t b = BucketOf(client);
  core::MutexLock lock(LockOf(b));
  Entry* ways = &entries_[b * kWays];
  for (std::size_t i = 0; i < kWays; ++i) {
    if (ways[i].last_seen != 0 && ways[i].key == client.bytes) {
      if (ways[i].connections > 0) --ways[i].connections;
      return;
    }
  }
}

std::uint32_t ClientTable::connections(const ClientKey& client) const {
  const std::size_t b = BucketOf(client);
  core::MutexLock lock(LockOf(b));
  const Entry* ways = &entries_[b * kWays];
  for (std::size_t i = 0; i < kWays; ++i) {
    if (ways[i].last_seen != 0 && ways[i].key == client.bytes) return ways[i].connections;
  }
  return 0;
}

}  // namespace scrutin::http

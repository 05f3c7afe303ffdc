#include "offline/hash_pool.hpp"

#include <openssl/crypto.h>

namespace scrutin::offline {

void BatchQueue::Push(Batch* b) {
  {
    core::MutexLock lock(mu_);
    q_.push_back(b);
  }
  cv_.NotifyOne();
}

Batch* BatchQueue::Pop() {
  core::MutexLock lock(mu_);
  cv_.Wait(lock, [&]() REQUIRES(mu_) { return !q_.empty(); });
  Batch* b = q_.front();
  q_.pop_front();
  return b;
}

HashPool::HashPool(const core::CredentialHasher& hasher, unsigned threads) : hasher_(hasher) {
  const unsigned pool = 2 * threads + 2;  // enough to keep every worker and the reader busy
  for (unsigned i = 0; i < pool; ++i) {
    batches_.push_back(std::make_unique<Batch>());
    free_.Push(batches_.back().get());
  }
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

HashPool::~HashPool() {
  for (std::size_t i = 0; i < workers_.size(); ++i) work_.Push(nullptr);
  for (auto& t : workers_) t.join();
  for (auto& b : batches_) OPENSSL_cleanse(b->messages.data(), b->messages.size() * kMessageSize);
}

Batch* HashPool::Acquire() { return free_.Pop(); }

void HashPool::Submit(Batch* b) {
  {
    core::MutexLock lock(mu_);
    ++in_flight_;
  }
  work_.Push(b);
}

void HashPool::Release(Batch* b) {
  b->size = 0;
  free_.Push(b);
}

void HashPool::Drain() {
  core::MutexLock lock(mu_);
  idle_.Wait(lock, [&]() REQUIRES(mu_) { return in_flight_ == 0; });
}

void HashPool::Work() {
  while (Batch* b = work_.Pop()) {
    for (std::size_t i = 0; i < b->size; ++i) {
      b->out[i] = hasher_.HashMessage(std::string_view(b->messages[i].data(), kMessageSize));
    }
    OPENSSL_cleanse(b->messages.data(), b->size * kMessageSize);
    Release(b);
    core::MutexLock lock(mu_);
    if (--in_flight_ == 0) idle_.NotifyAll();
  }
}

}  // namespace scrutin::offline

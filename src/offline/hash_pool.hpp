// HashPool: hashes registry rows on worker threads, for `scrutin hashgen`. The reader fills a
// Batch of "nas|code|law_id" messages, points it at its slice of a digest array the caller owns,
// and submits it; a worker writes one digest per message into that slice, wipes the messages and
// hands the batch back to the free list. A fixed set of batches circulates, so memory stays
// bounded however large the registry.
// Private to src/offline: other modules use its public headers.
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "core/credential.hpp"
#include "core/digest.hpp"
#include "core/mutex.hpp"
#include "core/thread_annotations.hpp"

namespace scrutin::offline {

// "nas|code|law_id" of a normalised row: 9 + 1 + 6 + 1 + 9 bytes.
inline constexpr std::size_t kMessageSize = 26;
inline constexpr std::size_t kBatchRows = 16384;

// Up to kBatchRows messages and where their digests go (messages[i] -> out[i]).
struct Batch {
  std::vector<std::array<char, kMessageSize>> messages =
      std::vector<std::array<char, kMessageSize>>(kBatchRows);
  std::size_t size = 0;
  core::Digest* out = nullptr;
};

// A small blocking queue of batch pointers; `nullptr` tells a worker to stop. Thread-safe.
class BatchQueue {
 public:
  void Push(Batch* b) EXCLUDES(mu_);
  // Blocks until a pointer is queued.
  Batch* Pop() EXCLUDES(mu_);

 private:
  core::Mutex mu_;
  core::CondVar cv_;
  std::deque<Batch*> q_ GUARDED_BY(mu_);
};

// Hashes batches on `threads` worker threads into a digest array owned by the caller. The array
// may only grow (reallocate) while no batch is in flight, which Drain() ensures. Acquire, Submit,
// Release and Drain are called by one thread (the reader); the destructor stops the workers and
// wipes every batch's messages. `hasher` must outlive the pool.
class HashPool {
 public:
  HashPool(const core::CredentialHasher& hasher, unsigned threads);
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // An empty batch; blocks while every batch is in flight.
  Batch* Acquire();
  // Hands a filled batch to the workers. REQUIRES: b->out points at b->size writable digests
  // that stay in place until Drain() returns.
  void Submit(Batch* b) EXCLUDES(mu_);
  // Gives an unsubmitted batch back.
  void Release(Batch* b);
  // Waits until every submitted batch has been hashed.
  void Drain() EXCLUDES(mu_);

 private:
  void Work() EXCLUDES(mu_);

  const core::CredentialHasher& hasher_;
  std::vector<std::unique_ptr<Batch>> batches_;
  BatchQueue free_, work_;
  core::Mutex mu_;
  core::CondVar idle_;
  std::size_t in_flight_ GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;
};

}  // namespace scrutin::offline

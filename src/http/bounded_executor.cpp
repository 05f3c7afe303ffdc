#include "http/bounded_executor.hpp"

#include <algorithm>

#include "core/mutex.hpp"

namespace scrutin::http {

BoundedExecutor::BoundedExecutor(Options options) : options_(options) {
  const std::size_t n = std::max<std::size_t>(1, options_.threads);
  threads_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
}

BoundedExecutor::~BoundedExecutor() { Stop(); }

bool BoundedExecutor::TrySubmit(Task task) {
  {
    core::MutexLock lock(mu_);
    if (stopping_) return false;
    if (queue_.size() >= std::max<std::size_t>(1, options_.max_queue)) {
      ++refused_;
      return false;
    }
    queue_.push_back({std::move(task), Clock::now() + options_.deadline});
  }
  cv_.NotifyOne();
  return true;
}

void BoundedExecutor::Stop() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::size_t BoundedExecutor::queue_depth() const {
  core::MutexLock lock(mu_);
  return queue_.size();
}

std::uint64_t BoundedExecutor::refused() const {
  core::MutexLock lock(mu_);
  return refused_;
}

std::uint64_t BoundedExecutor::expired() const {
  core::MutexLock lock(mu_);
  return expired_;
}

void BoundedExecutor::Loop() {
  for (;;) {
    Item item;
    bool expired = false;
    {
      core::MutexLock lock(mu_);
      cv_.Wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      item = std::move(queue_.front());
      queue_.pop_front();
      expired = Clock::now() > item.deadline;
      if (expired) ++expired_;
    }
    item.task(expired);
  }
}

}  // namespace scrutin::http

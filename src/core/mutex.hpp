// Mutex, MutexLock and CondVar: std::mutex, std::lock_guard/unique_lock and
// std::condition_variable with clang's thread-safety annotations (thread_annotations.hpp), so
// that GUARDED_BY members are checked by the compiler. Same cost as the std types they wrap.
//
//   core::Mutex mu_;
//   int count_ GUARDED_BY(mu_) = 0;
//   void Add() EXCLUDES(mu_) { core::MutexLock lock(mu_); ++count_; }
//   void Wait() { core::MutexLock lock(mu_); cv_.Wait(lock, [&]() REQUIRES(mu_) { return count_ >
//   0; }); }
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/thread_annotations.hpp"

namespace scrutin::core {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

  // Lowercase forms, so that a Mutex is a standard Lockable (std::scoped_lock works too).
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex for its scope; CondVar waits release and retake it.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // Gives the mutex up early (the destructor then does nothing), e.g. before a slow call.
  void Unlock() RELEASE() { lock_.unlock(); }
  // Takes it again after Unlock() (the destructor then releases it).
  void Lock() ACQUIRE() { lock_.lock(); }

 private:
  friend class CondVar;
  std::unique_lock<std::mutex> lock_;
};

class CondVar {
 public:
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

  // REQUIRES: `lock` holds its mutex (it is released while waiting and held again on return).
  void Wait(MutexLock& lock) { cv_.wait(lock.lock_); }
  template <typename Predicate>
  void Wait(MutexLock& lock, Predicate done) {
    cv_.wait(lock.lock_, std::move(done));
  }
  // Returns the predicate's last value (false: timed out with it still false).
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(MutexLock& lock, std::chrono::duration<Rep, Period> timeout, Predicate done) {
    return cv_.wait_for(lock.lock_, timeout, std::move(done));
  }
  template <typename Clock, typename Duration, typename Predicate>
  bool WaitUntil(MutexLock& lock, std::chrono::time_point<Clock, Duration> deadline,
                 Predicate done) {
    return cv_.wait_until(lock.lock_, deadline, std::move(done));
  }
  // Without a predicate: false when the timeout or deadline passed (a wake-up may be spurious).
  template <typename Rep, typename Period>
  bool WaitFor(MutexLock& lock, std::chrono::duration<Rep, Period> timeout) {
    return cv_.wait_for(lock.lock_, timeout) == std::cv_status::no_timeout;
  }
  template <typename Clock, typename Duration>
  bool WaitUntil(MutexLock& lock, std::chrono::time_point<Clock, Duration> deadline) {
    return cv_.wait_until(lock.lock_, deadline) == std::cv_status::no_timeout;
  }

 private:
  std::condition_variable cv_;
};

}  // namespace scrutin::core

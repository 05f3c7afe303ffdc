// Result<T, E>: a value or an error, for operations whose failure is an expected outcome
// (a malformed vote, an unreachable server). Exceptions are kept for start-up and configuration.
//
// An error is a message for people plus an ErrorCode for callers: code that must decide what to do
// with a failure (retry later, stop, refuse) branches on code(), never on the message's words.
// Fail(msg) leaves the code kUnknown; Fail(ErrorCode::kX, msg) sets it; returning a failed Result
// as it is (or through Fail(r.code(), ...)) keeps it.
//
// A deliberately small stand-in for C++23 std::expected (GCC 12 lacks it, and Boost 1.74 predates
// boost::system::result).
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace scrutin::core {

// What kind of failure an error is, for the callers that must tell them apart.
enum class ErrorCode : std::uint8_t {
  kUnknown,      // not classified; treat as kUnavailable where a decision is needed
  kUnavailable,  // a backend (server, disk, queue) could not be reached or timed out; the same
                 // call may succeed later, and nothing is known to be wrong with the data
  kCorrupt,      // stored or received data is malformed or inconsistent; retrying will not help
  kRefused,      // the request is not allowed (bad argument, unsupported operation, a data
                 // directory of another election); retrying the same request will not help
  kStateLost,    // the backend answers but lacks state the call needs (Redis lost the ledger:
                 // flushed, restarted empty, failed over to an empty replica); nothing was decided,
                 // and the same call succeeds once an operator restored it (`scrutin ledger
                 // rebuild`): wait and retry, never decide without it
};

constexpr std::string_view ToString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kRefused:
      return "refused";
    case ErrorCode::kStateLost:
      return "state_lost";
    case ErrorCode::kUnknown:
      break;
  }
  return "unknown";
}

template <typename E>
struct Unexpected {
  E error;
  ErrorCode code = ErrorCode::kUnknown;
};

template <typename E>
Unexpected<std::decay_t<E>> Fail(E&& error) {
  return {std::forward<E>(error)};
}

template <typename E>
Unexpected<std::decay_t<E>> Fail(ErrorCode code, E&& error) {
  return {std::forward<E>(error), code};
}

template <typename T, typename E = std::string>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  template <typename G>
  Result(Unexpected<G> u) : v_(std::in_place_index<1>, std::move(u.error)), code_(u.code) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // REQUIRES: !ok()
  const E& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  E& error() {
    assert(!ok());
    return std::get<1>(v_);
  }
  // REQUIRES: !ok()
  ErrorCode code() const {
    assert(!ok());
    return code_;
  }

 private:
  std::variant<T, E> v_;
  ErrorCode code_ = ErrorCode::kUnknown;
};

// Result of an operation with no value: Status() is success, Fail(e) the error.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  template <typename G>
  Result(Unexpected<G> u) : error_(std::move(u.error)), code_(u.code), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const {
    assert(!ok_);
    return error_;
  }
  // REQUIRES: !ok()
  ErrorCode code() const {
    assert(!ok_);
    return code_;
  }

 private:
  E error_{};
  ErrorCode code_ = ErrorCode::kUnknown;
  bool ok_ = true;
};

using Status = Result<void, std::string>;

}  // namespace scrutin::core

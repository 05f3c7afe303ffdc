// WipingBuffer: a fixed-capacity, contiguous read buffer (a DynamicBuffer for Beast's parsers) that
// zeroes bytes as soon as they are consumed and when it compacts, so a voter's NAS and code do not
// linger in a connection's memory after the request that carried them was parsed
// (docs/architecture.md "The six guarantees", 3: no PII at rest). Allocated once per connection;
// never grows.
//
// Thread-safety: none (one connection, one thread).
// Private to src/http: other modules use its public headers.
#pragma once

#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace scrutin::http {

class WipingBuffer {
 public:
  using const_buffers_type = boost::asio::const_buffer;
  using mutable_buffers_type = boost::asio::mutable_buffer;

  explicit WipingBuffer(std::size_t capacity)
      : data_(std::make_unique<char[]>(capacity)), capacity_(capacity) {}
  WipingBuffer(const WipingBuffer&) = delete;
  WipingBuffer& operator=(const WipingBuffer&) = delete;
  ~WipingBuffer() { Clear(); }

  std::size_t size() const { return out_ - in_; }
  std::size_t max_size() const { return capacity_; }
  std::size_t capacity() const { return capacity_; }
  const_buffers_type data() const { return {data_.get() + in_, out_ - in_}; }
  mutable_buffers_type data() { return {data_.get() + in_, out_ - in_}; }

  // Throws std::length_error when n does not fit (Beast turns it into buffer_overflow; its read
  // loops ask only for what fits, see beast::read_size).
  mutable_buffers_type prepare(std::size_t n) {
    if (n > capacity_ - size()) throw std::length_error("read buffer full");
    if (out_ + n > capacity_) {
      // Move the unread bytes to the front and wipe where they were.
      std::size_t live = size();
      std::memmove(data_.get(), data_.get() + in_, live);
      Wipe(live, out_ - live);
      in_ = 0;
      out_ = live;
    }
    prepared_ = n;
    return {data_.get() + out_, n};
  }

  void commit(std::size_t n) {
    out_ += n < prepared_ ? n : prepared_;
    prepared_ = 0;
  }

  void consume(std::size_t n) {
    if (n > size()) n = size();
    Wipe(in_, n);
    in_ += n;
    if (in_ == out_) in_ = out_ = 0;
  }

  // Wipes and drops everything.
  void Clear() {
    Wipe(0, capacity_);
    in_ = out_ = prepared_ = 0;
  }

 private:
  void Wipe(std::size_t pos, std::size_t n) {
    if (n > 0) explicit_bzero(data_.get() + pos, n);
  }

  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t in_ = 0;
  std::size_t out_ = 0;
  std::size_t prepared_ = 0;
};

}  // namespace scrutin::http

// RequestReader: turns the bytes of one connection into HTTP/1.1 requests, with every bound the
// front door needs and Boost.Beast 1.74's parser lacks on its own:
//   - the header is at most header_limit bytes (431), the body at most body_limit bytes (413);
//   - chunk extensions total at most max_chunk_extensions bytes per request, and the whole
//     request — header, body and chunk framing — at most header_limit + body_limit +
//     framing_allowance bytes (400): no request can make the server scan more than that;
//   - an element the read buffer cannot hold whole (a chunk line, a trailer) is refused (431)
//     instead of waiting for bytes that can never fit — the bug of Go's CVE-2023-39326 and
//     Node's CVE-2024-22019, and in Beast a read of zero bytes in a loop;
//   - message framing that proxies could read differently is refused (400), RFC 9112 §6: a
//     Transfer-Encoding other than exactly "chunked", Transfer-Encoding in HTTP/1.0, or
//     Transfer-Encoding together with Content-Length.
// A refused request is answered once and its connection closed (the bytes after it are not
// trusted to be a next request).
//
// It is the server's request path without the sockets, so that tests and the fuzz target
// (tests/fuzz/http_request_fuzz.cpp) exercise exactly what the server runs.
//
// Thread-safety: none (one connection, one thread).
#pragma once

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace scrutin::http {

struct ReaderLimits {
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 4 * 1024;
  std::size_t max_chunk_extensions = 1024;
  std::size_t framing_allowance = 4 * 1024;
  // The connection's read buffer size: bytes the parser cannot consume while the buffer is full
  // can never become a request.
  std::size_t buffer_capacity = 12 * 1024;
};

class RequestReader {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  struct Step {
    enum class Kind : std::uint8_t {
      kNeedMore,   // read more bytes (at most the buffer's free space), then Feed again
      kContinue,   // the header asked for "100 Continue": send it, then read and Feed again
      kComplete,   // a whole request: Release() it
      kRefused,    // answer {status, code, message} and close the connection
    };
    Kind kind = Kind::kNeedMore;
    std::size_t consumed = 0;  // bytes of `available` used: drop them from the buffer
    unsigned status = 0;
    std::string_view code;
    std::string message;
  };

  explicit RequestReader(ReaderLimits limits) : limits_(limits) {}
  RequestReader(const RequestReader&) = delete;  // the parser holds a callback into this object
  RequestReader& operator=(const RequestReader&) = delete;

  // Begins a new request (the previous one, if any, has been released).
  void Start();

  // Parses what it can of `available` (the unread bytes of the connection's buffer). `buffer_full`
  // is whether those bytes fill the whole buffer (no more can be read before some are consumed).
  Step Feed(std::string_view available, bool buffer_full);

  // True once some byte of the current request has been parsed.
  bool started() const { return started_; }

  // REQUIRES: the last Feed returned kComplete.
  Request Release();

  // Zeroes whatever body a refused request left in the parser (it may hold a credential).
  void WipeBody();

 private:
  Step Refuse(std::size_t consumed, unsigned status, std::string_view code, std::string message);
  // The framing checks above, once the header is parsed; empty when the header is acceptable.
  std::optional<Step> CheckFraming(std::size_t consumed);

  ReaderLimits limits_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::size_t request_bytes_ = 0;
  std::size_t extension_bytes_ = 0;
  bool header_seen_ = false;
  bool started_ = false;
  bool continue_sent_ = false;
  // Counts chunk-extension bytes; fails the parse beyond max_chunk_extensions.
  std::function<void(std::uint64_t, boost::beast::string_view, boost::beast::error_code&)>
      on_chunk_header_ = [this](std::uint64_t, boost::beast::string_view extensions,
                                boost::beast::error_code& ec) {
        extension_bytes_ += extensions.size();
        if (extension_bytes_ > limits_.max_chunk_extensions) {
          ec = boost::beast::http::error::bad_chunk_extension;
        }
      };
};

}  // namespace scrutin::http

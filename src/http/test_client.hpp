// Test-only: a blocking HTTP/1.1 client over a plain POSIX socket with a receive timeout, so a
// misbehaving server fails a test instead of hanging it. Lets tests send arbitrary bytes (slow,
// malformed, pipelined) and read responses one by one on the same connection.
// Private to src/http: other modules use its public headers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace scrutin::http::testing {

using TestResponse = boost::beast::http::response<boost::beast::http::string_body>;

class TestClient {
 public:
  // `source`: the local IPv4 address to connect from (e.g. "127.0.0.2", another client of the
  // server's per-client limits); null: the kernel's choice (127.0.0.1).
  explicit TestClient(unsigned short port,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                      const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    if (source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error("bind");
      }
    }
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("connect");
    }
  }
  ~TestClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // False when the server has closed (or reset) the connection.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one complete response; nullopt on EOF, reset or timeout first. `head`: the request was
  // HEAD (the response has no body whatever its Content-Length says).
  std::optional<TestResponse> Read(bool head = false) {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.eager(true);
    parser.body_limit(64 * 1024 * 1024);
    if (head) parser.skip(true);
    for (;;) {
      if (!pending_.empty()) {
        boost::beast::error_code ec;
        std::size_t used = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec && ec != boost::beast::http::error::need_more) return std::nullopt;
        if (parser.is_done()) return parser.release();
        if (used > 0 && !pending_.empty() && !ec) continue;
      }
      char buf[16384];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (n == 0 && parser.got_some()) {
          boost::beast::error_code ec;
          parser.put_eof(ec);
          if (!ec && parser.is_done()) return parser.release();
        }
        return std::nullopt;
      }
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // True when the server closes the connection (EOF or reset) within `wait`, discarding any data.
  bool WaitClosed(std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return true;
    }
  }

  // One request/response round trip.
  std::optional<TestResponse> Request(std::string_view method, std::string_view target,
                                      std::string_view body = {},
                                      std::string_view content_type = "application/json",
                                      std::string_view extra_headers = {}) {
    std::string req;
    req.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: test\r\n");
    if (!body.empty() || method == "POST") {
      req.append("Content-Type: ").append(content_type).append("\r\n");
      req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    req.append(extra_headers);
    req.append("\r\n").append(body);
    if (!Send(req)) return std::nullopt;
    return Read(method == "HEAD");
  }

 private:
  int fd_ = -1;
  std::string pending_;
};

inline std::string Header(const TestResponse& r, std::string_view name) {
  auto v = r[boost::beast::string_view(name.data(), name.size())];
  return std::string(v.data(), v.size());
}

}  // namespace scrutin::http::testing

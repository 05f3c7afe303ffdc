// Connection: one client connection of http::Server — reading requests through RequestReader,
// admitting them against the client's buckets, handing them to the Handler, writing responses,
// and the timeouts, pauses and shedding the sweeper applies (the contract is Server's, in
// server.hpp). Private to src/http.
//
// Thread-safety: lives on its worker's thread; only Deliver may be called from elsewhere. Kept
// alive by its pending operation, its Responder while a handler holds it, or itself while paused.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/client_address.hpp"
#include "http/client_table.hpp"
#include "http/request_reader.hpp"
#include "http/server.hpp"
#include "http/server_internal.hpp"
#include "http/wiping_buffer.hpp"

namespace scrutin::http::detail {

class Connection : public std::enable_shared_from_this<Connection> {
  using tcp = boost::asio::ip::tcp;

 public:
  // `counted`: the connection was counted against its peer's cap in the ClientTable (released on
  // close). `tls`: the server's TLS context when the port speaks HTTPS (kept alive by the
  // connection, so a reload never pulls it from under an open connection); null for plain HTTP.
  Connection(std::shared_ptr<Server::Worker> worker, tcp::socket socket,
             boost::asio::ip::address peer, bool counted,
             std::shared_ptr<boost::asio::ssl::context> tls)
      : worker_(std::move(worker)),
        shared_(*worker_->shared),
        socket_(std::move(socket)),
        buffer_(shared_.options.header_limit + 4096),
        reader_(ReaderLimits{shared_.options.header_limit, shared_.options.body_limit,
                             shared_.options.max_chunk_extensions,
                             shared_.options.framing_allowance, buffer_.capacity()}),
        peer_(std::move(peer)),
        client_(peer_),
        counted_(counted),
        tls_context_(std::move(tls)) {
    if (tls_context_) tls_.emplace(std::move(socket_), *tls_context_);
  }

  void Start();

  // Any thread. Hands the response to the connection's thread.
  void Deliver(Response r);

  // Worker thread: writes every response delivered since the last drain.
  static void DrainInbox(Server::Worker& w);

  // Worker thread: the server stops; finish what is in progress, then close.
  void OnServerStopping();

  // Worker thread: close now. Pending operations complete with an error and end the connection.
  void Expire();

  // Worker thread, from the sweeper: ends what has run out of time, resumes a paused connection.
  void Sweep(SteadyClock::time_point now, bool pressure);

  Connection* next = nullptr;
  Connection* prev = nullptr;

 private:
  enum class State : std::uint8_t {
    kProxyHeader,  // a trusted proxy's connection: reading its PROXY header, if it sends one
    kHandshake,    // HTTPS: the TLS handshake, bounded by request_timeout
    kIdle,
    kReading,
    kHandling,
    kWriting,
    kPaused,  // rate-limited: not read again before deadline_
    kLingering,
    kClosed
  };
  static constexpr auto kShedIdleAfter = std::chrono::seconds(1);
  static constexpr auto kMaxPause = std::chrono::seconds(1);

  void Link();

  void Unlink();

  void Close();

  // A trusted proxy may start the connection with a PROXY header naming the client; without one,
  // each request's X-Forwarded-For does (ForwardedClient).
  void ReadProxyHeader();

  // The TCP socket under the TLS stream, or the plain one. Closing and shutting down, socket
  // options, the PROXY header (which comes before TLS) and the lingering drain use it.
  tcp::socket& Lowest() { return tls_ ? tls_->next_layer() : socket_; }

  // Calls f with the stream requests and responses travel on: the TLS stream or the socket.
  template <class F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(socket_);
    }
  }

  // HTTPS: the client's allowance pays for the handshake (a handshake flood spends the flooder's
  // tokens, not the server's CPU for everyone), then the handshake, fed the bytes already read
  // after a PROXY header. Plain HTTP: straight to ReadRequest.
  void StartTls();

  // A failed handshake: plain HTTP on the HTTPS port is answered 400 (in plain text, so the
  // client can read it) and closed; anything else is closed.
  void OnHandshakeFailed(const boost::beast::error_code& ec);

  void ReadRequest();

  // Feeds the buffered bytes to the reader and acts on the outcome: a complete request, a
  // refusal, an interim 100 Continue, or a read for more bytes. The read loop is ours rather than
  // Beast's so that the request timeout starts with the first byte of a request.
  void DoRead();

  void OnRead(boost::beast::error_code ec, std::size_t n);

  void SendContinue();

  // The client this request speaks for (see ServerOptions::trusted_proxies).
  ClientKey RequestClient() const;

  static ClientTable::Bucket BucketOf(boost::beast::http::verb method);

  // A request the server refused before it was whole: its sender pays the malformed price, in
  // both buckets (its method may not even be known).
  void ChargeMalformed();

  void OnRequest();

  // 429 from the client's own bucket; the connection then rests until Retry-After.
  void RefuseRateLimited(std::chrono::nanoseconds retry_after);

  void SendServerError(unsigned status, std::string_view code, std::string_view message);

  void WriteResponse();

  void SerializeHead();

  void OnWrite(boost::beast::error_code ec);

  // Closing right after a response can make the kernel reset the connection (unread request bytes)
  // and destroy the response before the client reads it: send FIN, then drain what the client
  // still sends for a short while.
  void LingeringClose();

  void Drain();

  static thread_local Connection* tls_in_handler_;

  std::shared_ptr<Server::Worker> worker_;
  Server::Shared& shared_;
  tcp::socket socket_;  // moved into tls_ when the port speaks HTTPS
  WipingBuffer buffer_;
  RequestReader reader_;
  Request request_;
  Response response_;
  std::string head_;
  const boost::asio::ip::address peer_;  // the TCP peer
  boost::asio::ip::address client_;  // the peer, or the client a trusted proxy's PROXY header names
  ClientKey request_client_;         // who the request being handled speaks for
  ClientTable::Bucket request_bucket_ = ClientTable::Bucket::kWrite;
  SteadyClock::time_point deadline_{};
  SteadyClock::time_point idle_since_{};
  SteadyClock::duration pause_for_{};
  std::shared_ptr<Connection> paused_self_;  // set only while kPaused
  State state_ = State::kIdle;
  const bool counted_;
  bool trusted_peer_ = false;
  bool client_from_proxy_header_ = false;
  bool has_response_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool http10_ = false;
  bool close_after_ = false;
  bool close_after_write_ = false;
  const std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::optional<boost::asio::ssl::stream<tcp::socket>> tls_;
};

}  // namespace scrutin::http::detail

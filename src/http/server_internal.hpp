// What Server and its connections share (server.cpp, connection.cpp). Private to src/http.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/mutex.hpp"
#include "http/server.hpp"

namespace scrutin::http {

namespace detail {
class Connection;
}  // namespace detail

using SteadyClock = std::chrono::steady_clock;

// What every connection of one server shares.
struct Server::Shared {
  ServerOptions options;
  Handler* handler = nullptr;
  std::size_t max_connections = 0;  // set by Start
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> rate_limited{0};
  std::atomic<std::uint64_t> shed{0};
  std::atomic<std::uint64_t> tls_failed{0};

  // Near the cap, idle keep-alive connections are closed after kShedIdleAfter instead of
  // idle_timeout, so that new clients find room.
  bool UnderPressure() const {
    return connections.load(std::memory_order_relaxed) * 8 >= max_connections * 7;
  }

  void Log(std::string_view event, std::string_view detail) const {
    if (options.log) options.log(event, detail);
  }
};

struct Server::Worker {
  explicit Worker(std::shared_ptr<Server::Shared> s) : shared(std::move(s)) {}

  // Responses handed over by other threads (Connection::Deliver), written by one posted drain at
  // a time: a group commit answers dozens of votes at once, and one wake-up of this thread (one
  // eventfd write, one queued handler) then serves them all instead of one per vote.
  using Delivery = std::pair<std::shared_ptr<detail::Connection>, Response>;
  core::Mutex inbox_mu;
  std::vector<Delivery> inbox GUARDED_BY(inbox_mu);
  bool drain_posted GUARDED_BY(inbox_mu) = false;
  std::vector<Delivery> draining;  // this worker's thread only

  std::shared_ptr<Server::Shared> shared;
  boost::asio::io_context ioc{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  boost::asio::steady_timer sweeper{ioc};
  bool sweeping = true;
  detail::Connection* head = nullptr;  // open connections of this worker (its thread only)
  std::thread thread;
};

}  // namespace scrutin::http

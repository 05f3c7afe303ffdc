// The HTTP/1.1 client engine of the load generator: T threads, each with its own io_context and
// its own share of C keep-alive connections, sending requests that a Workload prepares.
//
// Targets: one or several replicas of the same service, spread as a load balancer would. The
// connections are numbered over all threads (thread 0's first, then thread 1's, ...) and
// connection k always talks to target k % n, reconnecting to that same target after a failure.
// Each thread sends its requests to the targets in turn (on an idle connection of the target
// whose turn it is), and on any idle connection when that target has none: while one target is
// down (its connections failing and backing off) the load flows through the others, and comes
// back to it once its connections reopen. A thread reaches every target when it has at least n
// connections (C/T >= n). With one target, a request takes the most recently idle connection.
//
// Pacing: open loop (a fixed rate; each request is due at t0 + i/R and its latency is measured
// from that instant, including any time spent waiting for a free connection) or closed loop (each
// connection sends its next request as soon as the previous answer arrived; latency is measured
// from the send). A connection that the server closes, that fails or that times out is counted
// and reopened (with backoff when connecting fails); a request that got no answer is reported to
// the workload as a failure, never retried (a vote may not be sent twice behind the caller's back).
//
// The hot path allocates nothing per request once the buffers of a connection have grown: the
// workload writes the request bytes into the connection's reusable buffer and the response is
// parsed by a parser that only keeps the status and the body.
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/mutex.hpp"

namespace boost::asio::ssl {
class context;
}
#include "core/result.hpp"
#include "loadgen/histogram.hpp"

namespace scrutin::loadgen {

using SteadyClock = std::chrono::steady_clock;

// Where the requests go: "http://host[:port][/]" or "https://host[:port][/]".
struct Target {
  std::string host;
  std::uint16_t port = 80;
  std::string host_header;  // "host:port" as sent in the Host header
  bool https = false;
  // For an https target: the context every connection to it verifies the server with
  // (MakeClientTlsContext); set by the caller before the engine starts.
  std::shared_ptr<boost::asio::ssl::context> tls;
};
core::Result<Target> ParseTarget(std::string_view url);

// One request on its way: the bytes the workload wrote and the bookkeeping it needs back.
struct RequestSlot {
  std::string bytes;  // the complete HTTP/1.1 request
  std::uint64_t tag = 0;
  std::uint32_t tag2 = 0;
};

enum class Failure : std::uint8_t {
  kTimeout,  // no complete answer within the timeout
  kIo,       // the connection failed or was closed before a complete answer
};

// The requests of one worker thread. All calls come from that thread only.
class Workload {
 public:
  virtual ~Workload() = default;
  // Fills `slot` with the next request. false: this workload has nothing more to send (the
  // worker finishes the requests in flight and stops).
  virtual bool Prepare(RequestSlot& slot) = 0;
  // A complete answer for the request in `slot`; `body` is valid during the call only.
  virtual void OnResponse(const RequestSlot& slot, int status, std::string_view body) = 0;
  // The request in `slot` got no answer; the server may or may not have processed it.
  virtual void OnFailure(const RequestSlot& slot, Failure failure) = 0;
};

struct EngineOptions {
  std::vector<Target> targets;  // at least one; connection k talks to targets[k % size]
  unsigned threads = 1;
  unsigned connections = 64;
  double rate = 0;                       // requests/s; 0 = closed loop
  std::uint64_t max_requests = 0;        // 0 = no limit
  std::chrono::nanoseconds duration{0};  // 0 = no limit
  std::chrono::milliseconds timeout{10000};
};

// Counters of a run so far, summed over the threads.
struct EngineTotals {
  std::uint64_t sent = 0;      // requests written (or being written)
  std::uint64_t answered = 0;  // complete HTTP answers
  std::uint64_t timeouts = 0;
  std::uint64_t io_errors = 0;
  std::uint64_t connect_errors = 0;  // failed connection attempts (not requests)
  std::uint64_t reconnects = 0;      // connections reopened after the first
  std::uint64_t unsent = 0;          // open loop: requests due before the end that were never sent
  std::array<std::uint64_t, 600> by_status{};  // answers per HTTP status (index 0: out of range)
};

class Engine {
 public:
  // Builds the workload of thread `thread` (0-based); called once per thread from Start().
  using WorkloadFactory = std::function<std::unique_ptr<Workload>(unsigned thread)>;

  // REQUIRES: threads >= 1, connections >= threads, rate >= 0.
  Engine(EngineOptions options, WorkloadFactory factory);
  ~Engine();  // requests a stop and joins the threads
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Resolves every target (once), opens every connection (failed ones are retried in the
  // background), then starts the clock and the requests; returns once the run has begun. Fails
  // when there is no target, a target does not resolve, or not a single connection to any target
  // could be opened within the timeout (the error names every target).
  // REQUIRES: called once.
  core::Status Start();
  // Waits up to `d` for the run to end; true when it has ended.
  bool WaitFor(std::chrono::milliseconds d);
  // Stops sending new requests (thread-safe); requests in flight still complete.
  void RequestStop() { stop_.store(true, std::memory_order_relaxed); }
  bool stop_requested() const { return stop_.load(std::memory_order_relaxed); }

  // Safe during the run (a recent, possibly slightly stale view) and after it.
  EngineTotals Totals() const;
  void MergeLatency(LatencyHistogram& into) const;
  // From the start of the clock to now (during the run) or to the last answer (after it).
  std::chrono::nanoseconds Elapsed() const;

  // REQUIRES: the run has ended (WaitFor returned true).
  Workload& workload(unsigned thread);
  unsigned threads() const { return options_.threads; }

 private:
  class Worker;
  class Connection;
  friend class Worker;
  friend class Connection;

  void OnWorkerReady();
  void OnWorkerDone();

  EngineOptions options_;
  WorkloadFactory factory_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  SteadyClock::time_point t0_{};
  std::atomic<bool> started_{false};

  mutable core::Mutex mu_;
  core::CondVar cv_;
  unsigned ready_ GUARDED_BY(mu_) = 0;
  unsigned done_ GUARDED_BY(mu_) = 0;
};

}  // namespace scrutin::loadgen

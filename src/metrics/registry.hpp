// A small Prometheus metrics registry: counters, gauges and fixed-bucket histograms, grouped in
// families keyed by label values, rendered in the text exposition format 0.0.4.
//
// Hot paths update a child metric (Counter, Gauge, Histogram) through relaxed atomics only: no
// lock, no allocation. Looking a child up by label values takes the family's mutex, so callers on
// hot paths resolve the children they need once and keep the reference (children are never
// destroyed or moved while the registry lives).
//
// Label cardinality is bounded per family (max_children, default 256): once a family holds that
// many children, further label sets share one overflow child whose label values are all
// kOverflowLabelValue, so a bug or an attacker cannot grow memory or the scrape without limit.
// Label values must never be credentials: they are law ids, statuses, routes, queue names.
//
// Registration (Add*) validates names and throws std::invalid_argument on a bad or duplicate name:
// it happens at start-up, where exceptions are the error channel.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.hpp"

namespace scrutin::metrics {

inline constexpr std::string_view kOverflowLabelValue = "_overflow";
inline constexpr std::size_t kDefaultMaxChildren = 256;

// A monotonically increasing count. Thread-safe, lock-free.
class Counter {
 public:
  void Increment(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets (upper bounds, inclusive, as Prometheus' `le`), plus a
// sum and a count. Thread-safe, lock-free. A scrape running concurrently with Observe may see the
// sum and the buckets of slightly different instants; each number is itself consistent.
class Histogram {
 public:
  // REQUIRES: bounds strictly increasing and finite (checked by Registry::AddHistogram).
  explicit Histogram(std::span<const double> bounds);

  void Observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot Collect() const;
  std::span<const double> bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0.0};
};

enum class MetricType : std::uint8_t { kCounter, kGauge, kHistogram };

// Common part of a family, used by the registry to render it.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  MetricType type() const { return type_; }

  // Appends this family's HELP, TYPE and sample lines to `out`.
  virtual void Render(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             MetricType type, std::size_t max_children);

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  MetricType type_;
  std::size_t max_children_;
};

// The children of one metric, one per distinct tuple of label values.
template <typename T>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;

  // Returns the child for these label values, creating it on first use; the overflow child when
  // the family is full. The reference stays valid for the registry's lifetime. Thread-safe (takes
  // the family's mutex: resolve once, outside hot loops).
  // REQUIRES: values.size() == label_names().size() (aborts otherwise: a programming error).
  T& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  T& WithLabels(std::span<const std::string_view> values);

  // The single child of a family without labels.
  T& Get() { return WithLabels(std::span<const std::string_view>{}); }

  void Render(std::string& out) const override;

  // For the registry only.
  Family(std::string name, std::string help, std::vector<std::string> label_names, MetricType type,
         std::size_t max_children, Factory factory)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), type, max_children),
        factory_(std::move(factory)) {}

 private:
  struct Child {
    std::vector<std::string> values;
    std::unique_ptr<T> metric;
  };
  Factory factory_;
  mutable core::Mutex mu_;
  // Keyed by the label values joined with '\0', so children render in a stable order.
  std::map<std::string, Child, std::less<>> children_ GUARDED_BY(mu_);
  std::unique_ptr<T> overflow_ GUARDED_BY(mu_);
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family. Names follow Prometheus: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label
  // [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" (and not "le" for histograms). Throws
  // std::invalid_argument on a malformed or already registered name, or bad bucket bounds.
  // The returned family lives as long as the registry. Thread-safe.
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {},
                              std::size_t max_children = kDefaultMaxChildren);
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {},
                          std::size_t max_children = kDefaultMaxChildren);
  // A counter whose value is read from a source that already counts (CPU seconds from /proc,
  // totals kept by another component): rendered with TYPE counter, but its children are Gauges
  // that a collector Set()s, with fractional values allowed. The caller must only ever set
  // non-decreasing values (a reset is the process restarting, as for any counter).
  Family<Gauge>& AddCounterFromSource(std::string name, std::string help,
                                      std::vector<std::string> label_names = {},
                                      std::size_t max_children = kDefaultMaxChildren);
  Family<Histogram>& AddHistogram(std::string name, std::string help, std::vector<double> bounds,
                                  std::vector<std::string> label_names = {},
                                  std::size_t max_children = kDefaultMaxChildren);

  // A collector runs at the start of every Render(), to refresh gauges whose value is cheaper to
  // read at scrape time than to track (queue depths, memory use, sliding-window rates). It must be
  // thread-safe and fast, and must not call back into Add*/AddCollector/Render. Returns an id for
  // RemoveCollector, which callers whose captured state dies before the registry must call.
  using CollectorId = std::uint64_t;
  CollectorId AddCollector(std::function<void()> collect);
  void RemoveCollector(CollectorId id);

  // Runs the collectors, then renders every family in registration order (exposition 0.0.4).
  // Thread-safe; concurrent Render calls are serialised.
  std::string Render() const;

  // The Content-Type of Render()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  void Insert(std::unique_ptr<FamilyBase> family);

  mutable core::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_ GUARDED_BY(mu_);
  std::map<CollectorId, std::function<void()>> collectors_ GUARDED_BY(mu_);
  CollectorId next_collector_ GUARDED_BY(mu_) = 1;
  mutable core::Mutex render_mu_;  // serialises Render (collectors run outside mu_)
};

// Exposition helpers, public for tests and for other renderers.
// Label value: escapes backslash, double quote and newline.
void AppendEscapedLabelValue(std::string& out, std::string_view v);
// HELP text: escapes backslash and newline.
void AppendEscapedHelp(std::string& out, std::string_view v);
// A sample value: integers without a fraction, "+Inf", "-Inf", "NaN", otherwise the shortest
// representation that round-trips.
void AppendValue(std::string& out, double v);

// Buckets suited to request latencies, from 0.5 ms to 10 s.
std::vector<double> LatencyBuckets();

}  // namespace scrutin::metrics

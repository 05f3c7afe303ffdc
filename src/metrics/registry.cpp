#include "metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace scrutin::metrics {
namespace {

bool IsMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsLabelName(std::string_view s) {
  if (s.empty() || s.starts_with("__")) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AtomicAdd(std::atomic<double>& a, double delta) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + delta, std::memory_order_relaxed)) {
  }
}

void AppendUint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// `{a="x",b="y"` without the closing brace, or nothing when there are no labels and no extra.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(names[i]);
    out.append("=\"");
    AppendEscapedLabelValue(out, values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out.push_back(',');
    out.append(extra_name);
    out.append("=\"");
    out.append(extra_value);
    out.push_back('"');
  }
  out.push_back('}');
}

std::string_view TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void AppendEscapedLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

void AppendEscapedHelp(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void Gauge::Add(double delta) { AtomicAdd(value_, delta); }

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  // First bound >= v: Prometheus buckets are inclusive upper bounds. NaN lands in +Inf.
  std::size_t i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                           bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
}

Histogram::Snapshot Histogram::Collect() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  s.count = acc;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       MetricType type, std::size_t max_children)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type),
      max_children_(std::max<std::size_t>(max_children, 1)) {}

namespace {

void RenderChild(std::string& out, const std::string& name,
                 const std::vector<std::string>& label_names,
                 const std::vector<std::string>& values, const Counter& m) {
  out.append(name);
  AppendLabels(out, label_names, values);
  out.push_back(' ');
  AppendUint(out, m.Value());
  out.push_back('\n');
}

void RenderChild(std::string& out, const std::string& name,
                 const std::vector<std::string>& label_names,
                 const std::vector<std::string>& values, const Gauge& m) {
  out.append(name);
  AppendLabels(out, label_names, values);
  out.push_back(' ');
  AppendValue(out, m.Value());
  out.push_back('\n');
}

void RenderChild(std::string& out, const std::string& name,
                 const std::vector<std::string>& label_names,
                 const std::vector<std::string>& values, const Histogram& m) {
  Histogram::Snapshot s = m.Collect();
  auto bounds = m.bounds();
  std::string le;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    le.clear();
    if (i < bounds.size()) {
      AppendValue(le, bounds[i]);
    } else {
      le = "+Inf";
    }
    out.append(name);
    out.append("_bucket");
    AppendLabels(out, label_names, values, "le", le);
    out.push_back(' ');
    AppendUint(out, s.cumulative[i]);
    out.push_back('\n');
  }
  out.append(name);
  out.append("_sum");
  AppendLabels(out, label_names, values);
  out.push_back(' ');
  AppendValue(out, s.sum);
  out.push_back('\n');
  out.append(name);
  out.append("_count");
  AppendLabels(out, label_names, values);
  out.push_back(' ');
  AppendUint(out, s.count);
  out.push_back('\n');
}

}  // namespace

template <typename T>
T& Family<T>::WithLabels(std::span<const std::string_view> values) {
  if (values.size() != label_names_.size()) {
    std::fprintf(stderr, "fatal: metric %s takes %zu label values, got %zu\n", name_.c_str(),
                 label_names_.size(), values.size());
    std::abort();
  }
  std::string key;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) key.push_back('\0');
    key.append(values[i]);
  }
  core::MutexLock lock(mu_);
  if (auto it = children_.find(key); it != children_.end()) return *it->second.metric;
  if (children_.size() >= max_children_) {
    if (!overflow_) overflow_ = factory_();
    return *overflow_;
  }
  Child child{std::vector<std::string>(values.begin(), values.end()), factory_()};
  auto [it, inserted] = children_.emplace(std::move(key), std::move(child));
  return *it->second.metric;
}

template <typename T>
void Family<T>::Render(std::string& out) const {
  out.append("# HELP ");
  out.append(name_);
  out.push_back(' ');
  AppendEscapedHelp(out, help_);
  out.append("\n# TYPE ");
  out.append(name_);
  out.push_back(' ');
  out.append(TypeName(type_));
  out.push_back('\n');
  core::MutexLock lock(mu_);
  for (const auto& [key, child] : children_) {
    RenderChild(out, name_, label_names_, child.values, *child.metric);
  }
  if (overflow_) {
    std::vector<std::string> values(label_names_.size(), std::string(kOverflowLabelValue));
    RenderChild(out, name_, label_names_, values, *overflow_);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Registry::Insert(std::unique_ptr<FamilyBase> family) {
  if (!IsMetricName(family->name())) {
    throw std::invalid_argument("metric name '" + family->name() + "' is not a valid name");
  }
  for (const auto& l : family->label_names()) {
    if (!IsLabelName(l) || (family->type() == MetricType::kHistogram && l == "le")) {
      throw std::invalid_argument("metric " + family->name() + ": label name '" + l +
                                  "' is not allowed");
    }
  }
  core::MutexLock lock(mu_);
  for (const auto& f : families_) {
    if (f->name() == family->name()) {
      throw std::invalid_argument("metric " + family->name() + " is already registered");
    }
  }
  families_.push_back(std::move(family));
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names,
                                      std::size_t max_children) {
  auto f = std::make_unique<Family<Counter>>(
      std::move(name), std::move(help), std::move(label_names), MetricType::kCounter, max_children,
      [] { return std::make_unique<Counter>(); });
  auto& ref = *f;
  Insert(std::move(f));
  return ref;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names, std::size_t max_children) {
  auto f = std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(label_names),
                                           MetricType::kGauge, max_children,
                                           [] { return std::make_unique<Gauge>(); });
  auto& ref = *f;
  Insert(std::move(f));
  return ref;
}

Family<Gauge>& Registry::AddCounterFromSource(std::string name, std::string help,
                                              std::vector<std::string> label_names,
                                              std::size_t max_children) {
  auto f = std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(label_names),
                                           MetricType::kCounter, max_children,
                                           [] { return std::make_unique<Gauge>(); });
  auto& ref = *f;
  Insert(std::move(f));
  return ref;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<double> bounds,
                                          std::vector<std::string> label_names,
                                          std::size_t max_children) {
  if (bounds.empty()) throw std::invalid_argument("histogram " + name + " has no buckets");
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      throw std::invalid_argument("histogram " + name +
                                  ": bucket bounds must be finite and strictly increasing");
    }
  }
  auto f = std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), std::move(label_names), MetricType::kHistogram,
      max_children, [b = std::move(bounds)] { return std::make_unique<Histogram>(b); });
  auto& ref = *f;
  Insert(std::move(f));
  return ref;
}

Registry::CollectorId Registry::AddCollector(std::function<void()> collect) {
  core::MutexLock lock(mu_);
  CollectorId id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return id;
}

void Registry::RemoveCollector(CollectorId id) {
  core::MutexLock render(render_mu_);  // never remove a collector while it runs
  core::MutexLock lock(mu_);
  collectors_.erase(id);
}

std::string Registry::Render() const {
  core::MutexLock render(render_mu_);
  std::vector<std::function<void()>> collectors;
  std::vector<const FamilyBase*> families;
  {
    core::MutexLock lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
    for (const auto& f : families_) families.push_back(f.get());
  }
  for (const auto& c : collectors) c();
  std::string out;
  out.reserve(4096);
  for (const auto* f : families) f->Render(out);
  return out;
}

}  // namespace scrutin::metrics

// `scrutin hashgen`: the offline phase. Reads the voter registry, computes every credential digest
// (on all cores), checks that no voter is listed twice for a law, and writes the eligibility
// database (core/hash_database.hpp). Nothing is written unless the whole registry is valid.
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apps/commands.hpp"
#include "apps/progress.hpp"
#include "core/credential.hpp"
#include "core/hash_database.hpp"
#include "core/normalise.hpp"
#include "core/registry.hpp"

namespace scrutin::apps {
namespace {

namespace fs = std::filesystem;

// "nas|code|law_id" of a normalised row: 9 + 1 + 6 + 1 + 9 bytes.
constexpr std::size_t kMessageSize = 26;
constexpr std::size_t kBatchRows = 16384;
constexpr std::size_t kMaxErrorsShown = 20;
// The shortest possible registry row (message plus its line end): bounds the row count from the
// file size, so the digest array is reserved once.
constexpr std::uint64_t kMinRowBytes = kMessageSize + 1;
constexpr std::uint64_t kMaxInitialReserve = std::uint64_t{1} << 26;

struct HashgenOptions {
  std::string voters;
  std::string key_file;
  std::string scheme = "hmac-sha256";
  std::string out;
  std::uint64_t shard_size = 1'000'000;
  std::string format = "bin";
  unsigned threads = 0;
};

struct Batch {
  std::vector<std::array<char, kMessageSize>> messages =
      std::vector<std::array<char, kMessageSize>>(kBatchRows);
  std::size_t size = 0;
  core::Digest* out = nullptr;
};

// A small blocking queue of batch pointers; `nullptr` tells a worker to stop.
class BatchQueue {
 public:
  void Push(Batch* b) {
    {
      std::lock_guard lock(mu_);
      q_.push_back(b);
    }
    cv_.notify_one();
  }
  Batch* Pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !q_.empty(); });
    Batch* b = q_.front();
    q_.pop_front();
    return b;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch*> q_;
};

// Hashes batches on worker threads into a digest array owned by the caller. The array may only
// grow (reallocate) while no batch is in flight, which Drain() ensures.
class HashPool {
 public:
  HashPool(const core::CredentialHasher& hasher, unsigned threads) : hasher_(hasher) {
    const unsigned pool = 2 * threads + 2;  // enough to keep every worker and the reader busy
    for (unsigned i = 0; i < pool; ++i) {
      batches_.push_back(std::make_unique<Batch>());
      free_.Push(batches_.back().get());
    }
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~HashPool() {
    for (std::size_t i = 0; i < workers_.size(); ++i) work_.Push(nullptr);
    for (auto& t : workers_) t.join();
    for (auto& b : batches_) OPENSSL_cleanse(b->messages.data(), b->messages.size() * kMessageSize);
  }

  Batch* Acquire() { return free_.Pop(); }
  void Submit(Batch* b) {
    {
      std::lock_guard lock(mu_);
      ++in_flight_;
    }
    work_.Push(b);
  }
  void Release(Batch* b) {
    b->size = 0;
    free_.Push(b);
  }
  void Drain() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return in_flight_ == 0; });
  }

 private:
  void Work() {
    while (Batch* b = work_.Pop()) {
      for (std::size_t i = 0; i < b->size; ++i) {
        b->out[i] = hasher_.HashMessage(std::string_view(b->messages[i].data(), kMessageSize));
      }
      OPENSSL_cleanse(b->messages.data(), b->size * kMessageSize);
      Release(b);
      std::lock_guard lock(mu_);
      if (--in_flight_ == 0) idle_.notify_all();
    }
  }

  const core::CredentialHasher& hasher_;
  std::vector<std::unique_ptr<Batch>> batches_;
  BatchQueue free_, work_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::size_t in_flight_ = 0;
  std::vector<std::thread> workers_;
};

// Which (law, NAS) pairs the registry has listed so far, to refuse a voter listed twice for a
// law (two codes would mean two votes). One bitmap of 10^8 bits (12.5 MB) per law, indexed by the
// NAS's first 8 digits: the ninth is the Luhn check digit, fixed by the other eight.
//
// Bitmap words are touched at random, so each check would wait on a cache miss; instead each row's
// word is prefetched when the row is added and tested kLag rows later, in the order added.
class SeenVoters {
 public:
  static constexpr std::size_t kMaxLaws = 64;
  // Called for each row whose NAS was already listed for its law.
  using RepeatFn = std::function<void(std::uint64_t line, const std::string& law_id)>;

  explicit SeenVoters(RepeatFn on_repeat) : on_repeat_(std::move(on_repeat)) {}

  // REQUIRES: a normalised row.
  void Add(const core::RegistryRow& row, std::uint64_t line) {
    Law& law = Find(row.law_id);
    std::uint32_t body = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      body = body * 10 + static_cast<std::uint32_t>(row.nas[i] - '0');
    }
    Pending& p = ring_[added_++ % kLag];
    if (added_ > kLag) Check(p);
    p = {&law.bits[body / 64], std::uint64_t{1} << (body % 64), line, &law.id};
    __builtin_prefetch(p.word, 1);
  }

  // Checks the rows still pending. Call once after the last Add().
  void Flush() {
    const std::uint64_t first = added_ > kLag ? added_ - kLag : 0;
    for (std::uint64_t i = first; i < added_; ++i) Check(ring_[i % kLag]);
    added_ = 0;
  }

 private:
  static constexpr std::size_t kLag = 32;
  struct Law {
    std::string id;
    std::vector<std::uint64_t> bits;
  };
  struct Pending {
    std::uint64_t* word;
    std::uint64_t mask;
    std::uint64_t line;
    const std::string* law_id;
  };

  void Check(const Pending& p) {
    if (*p.word & p.mask) {
      on_repeat_(p.line, *p.law_id);
    } else {
      *p.word |= p.mask;
    }
  }

  Law& Find(const std::string& id) {
    if (last_ != nullptr && last_->id == id) return *last_;
    auto it = std::find_if(laws_.begin(), laws_.end(), [&](const Law& l) { return l.id == id; });
    if (it == laws_.end()) {
      if (laws_.size() == kMaxLaws) {
        throw CommandError("the registry names more than " + std::to_string(kMaxLaws) +
                           " laws; hashgen handles at most that many per run");
      }
      laws_.push_back({id, std::vector<std::uint64_t>(100'000'000 / 64 + 1)});
      it = laws_.end() - 1;
    }
    last_ = &*it;
    return *it;
  }

  RepeatFn on_repeat_;
  std::deque<Law> laws_;  // stable addresses
  Law* last_ = nullptr;
  Pending ring_[kLag];
  std::uint64_t added_ = 0;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Fails early, before hours of work, when the output directory cannot be used.
void CheckOutputDir(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out / "manifest.json", ec)) {
    throw CommandError("'" + out.string() + "' already holds a hash database (manifest.json); " +
                       "choose another --out directory or remove it first");
  }
  fs::path probe = out;
  while (!probe.empty() && !fs::exists(probe, ec)) probe = probe.parent_path();
  if (probe.empty()) probe = ".";
  if (!fs::is_directory(probe, ec)) {
    throw CommandError("--out '" + out.string() + "': '" + probe.string() + "' is not a directory");
  }
  if (::access(probe.c_str(), W_OK | X_OK) != 0) {
    throw CommandError("--out '" + out.string() + "': cannot write in '" + probe.string() + "'");
  }
}

std::unique_ptr<core::RegistryReader> OpenRegistry(const std::string& path) {
  auto reader = core::RegistryReader::Open(path);
  if (!reader) throw CommandError("registry '" + path + "': " + reader.error());
  return std::move(*reader);
}

void RunHashgen(const HashgenOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  auto scheme = core::ParseHashScheme(o.scheme);
  if (!scheme) throw CommandError("--scheme must be hmac-sha256 or sha256, not '" + o.scheme + "'");
  auto format = core::ParseShardFormat(o.format);
  if (!format) throw CommandError("--format must be bin or json, not '" + o.format + "'");
  if (o.shard_size == 0) throw CommandError("--shard-size must be at least 1");
  const unsigned threads =
      o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());

  std::vector<std::uint8_t> key;
  if (*scheme == core::HashScheme::kHmacSha256) {
    if (o.key_file.empty()) {
      throw CommandError("--key-file is required with --scheme hmac-sha256 " +
                         std::string("(create one with `scrutin keygen --out FILE`)"));
    }
    auto loaded = core::LoadElectionKey(o.key_file);
    if (!loaded) throw CommandError(loaded.error());
    key = std::move(*loaded);
  } else if (!o.key_file.empty()) {
    std::fprintf(stderr, "scrutin: note: --key-file is not used by --scheme sha256\n");
  }
  auto hasher = core::CredentialHasher::Create(*scheme, key);
  OPENSSL_cleanse(key.data(), key.size());
  if (!hasher) throw CommandError(hasher.error());
  CheckOutputDir(o.out);

  auto reader = OpenRegistry(o.voters);
  const std::uint64_t estimate =
      std::min(reader->file_size() / kMinRowBytes + 1, kMaxInitialReserve);
  std::vector<core::Digest> digests;
  digests.reserve(estimate);  // address space only: pages are touched as digests arrive

  std::uint64_t rows = 0, bad = 0, repeats = 0;
  SeenVoters seen([&](std::uint64_t line, const std::string& law_id) {
    ++repeats;
    if (++bad <= kMaxErrorsShown) {
      std::fprintf(stderr, "scrutin: %s: line %llu: nas: already listed for law %s\n",
                   o.voters.c_str(), static_cast<unsigned long long>(line), law_id.c_str());
    }
  });
  {
    HashPool pool(*hasher, threads);
    ProgressBar bar("reading", reader->file_size() >> 20, "MiB");
    auto submit = [&](Batch* b) {
      if (digests.size() + b->size > digests.capacity()) {
        pool.Drain();  // no worker holds a pointer into the array while it moves
        digests.reserve(std::max(digests.capacity() * 2, digests.size() + b->size));
      }
      const std::size_t off = digests.size();
      digests.resize(off + b->size);
      b->out = digests.data() + off;
      pool.Submit(b);
    };
    Batch* batch = pool.Acquire();
    core::RegistryRow row;
    while (true) {
      auto r = reader->Next(row);
      if (!r) {
        if (reader->broken()) throw CommandError("registry '" + o.voters + "': " + r.error());
        if (++bad <= kMaxErrorsShown) {
          std::fprintf(stderr, "scrutin: %s: %s\n", o.voters.c_str(), r.error().c_str());
        }
        continue;
      }
      if (!*r) break;
      ++rows;
      seen.Add(row, reader->line());
      if (bad == 0) {  // after a bad row nothing will be written: only look for more errors
        char* m = batch->messages[batch->size++].data();
        std::memcpy(m, row.nas.data(), 9);
        m[9] = '|';
        std::memcpy(m + 10, row.code.data(), 6);
        m[16] = '|';
        std::memcpy(m + 17, row.law_id.data(), 9);
        if (batch->size == kBatchRows) {
          submit(batch);
          batch = pool.Acquire();
        }
      }
      if ((rows & 0xffff) == 0) bar.Update(reader->bytes_read() >> 20);
    }
    if (batch->size > 0) {
      submit(batch);
    } else {
      pool.Release(batch);
    }
    seen.Flush();
    pool.Drain();
    core::Wipe(row.nas);
    core::Wipe(row.code);
    bar.Update(reader->bytes_read() >> 20);
    bar.Finish();
  }
  reader.reset();

  if (bad > 0) {
    std::string msg = "registry '" + o.voters + "' has " + std::to_string(bad) + " bad row" +
                      (bad > 1 ? "s" : "");
    if (repeats > 0) {
      msg += " (" + std::to_string(repeats) + " repeating a NAS already listed for the same law: " +
             "each voter must appear once per law)";
    }
    if (bad > kMaxErrorsShown) {
      msg += "; the first " + std::to_string(kMaxErrorsShown) + " are listed above";
    }
    throw CommandError(msg + "; nothing written");
  }
  if (rows == 0) {
    throw CommandError("registry '" + o.voters + "' has a header but no rows; nothing written");
  }

  const double read_seconds = Seconds(start);
  const auto sort_start = std::chrono::steady_clock::now();
  core::SortDigests(digests, threads);
  const double sort_seconds = Seconds(sort_start);

  const auto write_start = std::chrono::steady_clock::now();
  ProgressBar bar("writing", digests.size(), "digests");
  auto manifest = core::WriteHashDatabase(o.out, *scheme, *format, o.shard_size, digests,
                                          [&](std::uint64_t n) { bar.Update(n); });
  bar.Finish();
  if (!manifest) throw CommandError("cannot write the hash database: " + manifest.error());
  std::printf(
      "hashgen: %llu rows -> %llu digests (%s, %s, %zu shard%s) in %s; %s (read+hash %s, sort %s, "
      "write %s)\n",
      static_cast<unsigned long long>(rows), static_cast<unsigned long long>(manifest->count),
      std::string(core::ToString(*scheme)).c_str(), std::string(core::ToString(*format)).c_str(),
      manifest->shards.size(), manifest->shards.size() == 1 ? "" : "s", o.out.c_str(),
      FormatDuration(Seconds(start)).c_str(), FormatDuration(read_seconds).c_str(),
      FormatDuration(sort_seconds).c_str(), FormatDuration(Seconds(write_start)).c_str());
}

}  // namespace

void AddHashgenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "hashgen", "Build the eligibility database (credential digests) from a voter registry CSV");
  auto o = std::make_shared<HashgenOptions>();
  cmd->add_option("--voters", o->voters, "Registry CSV with header nas,code,law_id")->required();
  cmd->add_option("--key-file", o->key_file,
                  "Election key from `scrutin keygen` (required for hmac-sha256)");
  cmd->add_option("--scheme", o->scheme, "hmac-sha256 (default) or sha256 (original design)")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Directory for manifest.json and the shards")->required();
  cmd->add_option("--shard-size", o->shard_size, "Digests per shard")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
  cmd->add_option("--format", o->format, "Shard format: bin (compact, default) or json")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Hashing threads (default: one per core)")
      ->check(CLI::Range(1u, 256u));
  cmd->callback([o] { RunHashgen(*o); });
}

}  // namespace scrutin::apps

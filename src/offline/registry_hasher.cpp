#include "offline/registry_hasher.hpp"

#include <algorithm>
#include <cstring>

#include "core/normalise.hpp"
#include "offline/hash_pool.hpp"
#include "offline/seen_voters.hpp"

namespace scrutin::offline {
namespace {

// The shortest possible registry row (message plus its line end): bounds the row count from the
// file size, so the digest array is reserved once.
constexpr std::uint64_t kMinRowBytes = kMessageSize + 1;
constexpr std::uint64_t kMaxInitialReserve = std::uint64_t{1} << 26;

}  // namespace

core::Result<HashedRegistry> HashRegistry(core::RegistryReader& reader,
                                          const core::CredentialHasher& hasher, unsigned threads,
                                          const HashRegistryCallbacks& callbacks) {
  HashedRegistry out;
  std::vector<core::Digest>& digests = out.digests;
  // Address space only: pages are touched as digests arrive.
  digests.reserve(std::min(reader.file_size() / kMinRowBytes + 1, kMaxInitialReserve));

  auto bad_row = [&](const std::string& message) {
    ++out.bad;
    if (callbacks.on_bad_row) callbacks.on_bad_row(out.bad, message);
  };
  SeenVoters seen([&](std::uint64_t line, const std::string& law_id) {
    ++out.repeats;
    bad_row("line " + std::to_string(line) + ": nas: already listed for law " + law_id);
  });
  auto progress = [&] {
    if (callbacks.on_progress) callbacks.on_progress(reader.bytes_read());
  };

  core::RegistryRow row;
  core::Status status;  // an error ends the read
  {
    HashPool pool(hasher, std::max(1u, threads));
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
    while (true) {
      auto r = reader.Next(row);
      if (!r) {
        if (reader.broken()) {
          status = core::Fail(r.error());
          break;
        }
        bad_row(r.error());
        continue;
      }
      if (!*r) break;
      ++out.rows;
      if (auto added = seen.Add(row, reader.line()); !added) {
        status = added;
        break;
      }
      if (out.bad == 0) {  // after a bad row nothing will be written: only look for more errors
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
      if ((out.rows & 0xffff) == 0) progress();
    }
    if (batch->size > 0 && status) {
      submit(batch);
    } else {
      pool.Release(batch);
    }
    if (status) seen.Flush();
    pool.Drain();
  }
  core::Wipe(row.nas);
  core::Wipe(row.code);
  if (!status) return core::Fail(status.error());
  progress();
  if (out.bad > 0) {
    digests.clear();
    digests.shrink_to_fit();
  }
  return out;
}

}  // namespace scrutin::offline

// Binary shard layout (all integers little-endian), version 1:
//
//   offset  size        field
//   0       8           magic "SCRUTHDB"
//   8       4           layout version (1)
//   12      1           scheme: 0 = hmac-sha256, 1 = sha256
//   13      3           zero
//   16      4           shard index (0-based)
//   20      4           zero
//   24      8           count: number of digests
//   32      32          zero (room for later fields)
//   64      32 * count  digests, strictly ascending (bytewise), each 32 bytes
//   end-32  32          SHA-256 of every byte before it
//
// The trailer lets a shard be checked on its own; the manifest's per-shard SHA-256 (of the whole
// file, trailer included) ties each shard to the database it belongs to.
#include "core/hash_database.hpp"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

namespace scrutin::core {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'S', 'C', 'R', 'U', 'T', 'H', 'D', 'B'};
constexpr std::uint32_t kBinVersion = 1;
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kTrailerSize = SHA256_DIGEST_LENGTH;
constexpr std::size_t kIoChunk = 1 << 20;
constexpr std::uintmax_t kMaxManifestBytes = 16 << 20;
constexpr char kManifestName[] = "manifest.json";

std::uint64_t LoadBE64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);
}

// Bytewise order of digests, eight bytes at a time.
bool DigestLess(const Digest& a, const Digest& b) {
  for (std::size_t i = 0; i < Digest::kSize; i += 8) {
    std::uint64_t x = LoadBE64(a.bytes.data() + i), y = LoadBE64(b.bytes.data() + i);
    if (x != y) return x < y;
  }
  return false;
}

void PutLE(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t GetLE(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string ShardName(std::size_t index, ShardFormat format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "hash_database_%03zu.%s", index,
                format == ShardFormat::kBin ? "bin" : "json");
  return buf;
}

std::string Errno(const std::string& what, const fs::path& path) {
  return what + " '" + path.string() + "': " + std::strerror(errno);
}

// A file written through a buffer, hashed on the way, under a temporary name until Commit().
class ShardWriter {
 public:
  ~ShardWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
  }

  Status Open(const fs::path& final_path) {
    final_ = final_path;
    tmp_ = final_path.string() + ".tmp";
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return Fail(Errno("cannot create", tmp_));
    buf_.reserve(kIoChunk);
    SHA256_Init(&sha_);
    return {};
  }

  Status Write(const void* data, std::size_t size) {
    SHA256_Update(&sha_, data, size);
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
      std::size_t n = std::min(size, kIoChunk - buf_.size());
      buf_.append(p, n);
      p += n;
      size -= n;
      if (buf_.size() == kIoChunk) {
        if (auto s = Flush(); !s) return s;
      }
    }
    return {};
  }
  Status Write(std::string_view s) { return Write(s.data(), s.size()); }

  // The SHA-256 of everything written so far, without ending the stream.
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> PeekSha256() const {
    SHA256_CTX copy = sha_;
    std::array<std::uint8_t, SHA256_DIGEST_LENGTH> out;
    SHA256_Final(out.data(), &copy);
    return out;
  }

  // Flushes, syncs, and renames into place. Returns the file's SHA-256 in hex.
  Result<std::string> Commit() {
    if (auto s = Flush(); !s) return Fail(s.error());
    if (::fsync(fd_) != 0) return Fail(Errno("cannot sync", tmp_));
    if (::close(fd_) != 0) {
      fd_ = -1;
      return Fail(Errno("cannot close", tmp_));
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), final_.c_str()) != 0) return Fail(Errno("cannot rename", tmp_));
    committed_ = true;
    std::uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256_Final(digest, &sha_);
    return HexEncode(digest, sizeof digest);
  }

 private:
  Status Flush() {
    std::size_t off = 0;
    while (off < buf_.size()) {
      ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(Errno("cannot write", tmp_));
      off += static_cast<std::size_t>(n);
    }
    buf_.clear();
    return {};
  }

  int fd_ = -1;
  fs::path final_;
  std::string tmp_;
  std::string buf_;
  SHA256_CTX sha_;
  bool committed_ = false;
};

Result<std::string> WriteBinShard(const fs::path& path, HashScheme scheme, std::size_t index,
                                  std::span<const Digest> digests) {
  ShardWriter w;
  if (auto s = w.Open(path); !s) return Fail(s.error());
  std::uint8_t header[kHeaderSize] = {};
  std::memcpy(header, kMagic, sizeof kMagic);
  PutLE(header + 8, kBinVersion, 4);
  header[12] = scheme == HashScheme::kHmacSha256 ? 0 : 1;
  PutLE(header + 16, index, 4);
  PutLE(header + 24, digests.size(), 8);
  if (auto s = w.Write(header, sizeof header); !s) return Fail(s.error());
  static_assert(sizeof(Digest) == Digest::kSize);
  if (auto s = w.Write(digests.data(), digests.size_bytes()); !s) return Fail(s.error());
  auto trailer = w.PeekSha256();
  if (auto s = w.Write(trailer.data(), trailer.size()); !s) return Fail(s.error());
  return w.Commit();
}

Result<std::string> WriteJsonShard(const fs::path& path, HashScheme scheme, std::size_t index,
                                   std::span<const Digest> digests) {
  ShardWriter w;
  if (auto s = w.Open(path); !s) return Fail(s.error());
  std::string head = "{\"scheme\":\"" + std::string(ToString(scheme)) +
                     "\",\"shard\":" + std::to_string(index) +
                     ",\"count\":" + std::to_string(digests.size()) + ",\"hashes\":[";
  if (auto s = w.Write(head); !s) return Fail(s.error());
  std::string line;
  for (std::size_t i = 0; i < digests.size(); ++i) {
    line.clear();
    line += i == 0 ? "\n\"" : ",\n\"";
    line += digests[i].ToHex();
    line += '"';
    if (auto s = w.Write(line); !s) return Fail(s.error());
  }
  if (auto s = w.Write(std::string_view("\n]}\n")); !s) return Fail(s.error());
  return w.Commit();
}

Status SyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(Errno("cannot open directory", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Fail(Errno("cannot sync directory", dir));
  return {};
}

bool IsShardFileName(const std::string& name) {
  static const std::regex kPattern(R"(hash_database_[0-9]{3,}\.(bin|json)(\.tmp)?)");
  return std::regex_match(name, kPattern);
}

// Reads a whole file of at most `max` bytes.
Result<std::string> ReadSmallFile(const fs::path& path, std::uintmax_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(Errno("cannot open", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail("'" + path.string() + "' is not a regular file");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max) {
    ::close(fd);
    return Fail("'" + path.string() + "' is larger than expected (" + std::to_string(st.st_size) +
                " bytes)");
  }
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::read(fd, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = n < 0 ? Errno("cannot read", path) : "'" + path.string() + "' shrank";
      ::close(fd);
      return Fail(err);
    }
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return out;
}

// Streams a JSON shard's text into digests, checking its shape against what the manifest says.
class JsonShardSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  JsonShardSax(std::vector<Digest>& out) : out_(out) {}
  std::string error;
  std::optional<std::string> scheme;
  std::optional<std::uint64_t> shard, count;
  bool hashes_seen = false;

  bool null() override { return Bad("unexpected null"); }
  bool boolean(bool) override { return Bad("unexpected boolean"); }
  bool number_integer(number_integer_t v) override {
    return v < 0 ? Bad("negative number") : number_unsigned(static_cast<std::uint64_t>(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (depth_ != 1) return Bad("unexpected number");
    if (key_ == "shard") {
      shard = v;
    } else if (key_ == "count") {
      count = v;
    } else {
      return Bad("'" + key_ + "' must not be a number");
    }
    return true;
  }
  bool number_float(number_float_t, const string_t&) override { return Bad("unexpected number"); }
  bool binary(binary_t&) override { return Bad("unexpected binary value"); }
  bool string(string_t& s) override {
    if (depth_ == 2 && in_hashes_) {
      auto d = Digest::FromHex(s);
      if (!d) return Bad("hash #" + std::to_string(out_.size() - base_ + 1) + " is not 64 hex");
      out_.push_back(*d);
      return true;
    }
    if (depth_ == 1 && key_ == "scheme") {
      scheme = s;
      return true;
    }
    return Bad("unexpected string");
  }
  bool start_object(std::size_t) override {
    if (depth_ != 0) return Bad("unexpected object");
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ != 1 || key_ != "hashes" || hashes_seen) return Bad("unexpected array");
    hashes_seen = in_hashes_ = true;
    base_ = out_.size();
    ++depth_;
    return true;
  }
  bool end_array() override {
    in_hashes_ = false;
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (k != "scheme" && k != "shard" && k != "count" && k != "hashes") {
      return Bad("unknown key '" + k.substr(0, 64) + "'");
    }
    key_ = k;
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&,
                   const nlohmann::detail::exception&) override {
    if (error.empty()) error = "invalid JSON at byte " + std::to_string(pos);
    return false;
  }

 private:
  bool Bad(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }
  std::vector<Digest>& out_;
  std::string key_;
  int depth_ = 0;
  bool in_hashes_ = false;
  std::size_t base_ = 0;
};

Status ReadBinShard(const fs::path& path, const Manifest& m, std::size_t index,
                    const ShardInfo& info, std::vector<Digest>& out) {
  const std::string name = info.file;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(Errno("cannot open shard", path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Fail(Errno("cannot stat shard", path));
  const std::uint64_t expected = kHeaderSize + info.count * Digest::kSize + kTrailerSize;
  if (static_cast<std::uint64_t>(st.st_size) != expected) {
    return Fail("shard " + name + " is " + std::to_string(st.st_size) + " bytes, expected " +
                std::to_string(expected) + " for " + std::to_string(info.count) + " digests");
  }
  auto read_exact = [&](void* dst, std::size_t size) -> Status {
    auto* p = static_cast<char*>(dst);
    while (size > 0) {
      ssize_t n = ::read(fd, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(Errno("cannot read shard", path));
      if (n == 0) return Fail("shard " + name + " is truncated");
      p += n;
      size -= static_cast<std::size_t>(n);
    }
    return {};
  };
  SHA256_CTX sha;
  SHA256_Init(&sha);
  std::uint8_t header[kHeaderSize];
  if (auto s = read_exact(header, sizeof header); !s) return s;
  SHA256_Update(&sha, header, sizeof header);
  if (std::memcmp(header, kMagic, sizeof kMagic) != 0) {
    return Fail("shard " + name + " is not a scrutin hash database shard (bad magic)");
  }
  if (GetLE(header + 8, 4) != kBinVersion) {
    return Fail("shard " + name + " has unsupported layout version " +
                std::to_string(GetLE(header + 8, 4)));
  }
  const HashScheme scheme = header[12] == 0 ? HashScheme::kHmacSha256 : HashScheme::kSha256;
  if (header[12] > 1 || scheme != m.scheme) {
    return Fail("shard " + name + " was built with another hash scheme than the manifest's");
  }
  if (GetLE(header + 16, 4) != index) {
    return Fail("shard " + name + " says it is shard " + std::to_string(GetLE(header + 16, 4)) +
                ", the manifest lists it as shard " + std::to_string(index));
  }
  if (GetLE(header + 24, 8) != info.count) {
    return Fail("shard " + name + " holds " + std::to_string(GetLE(header + 24, 8)) +
                " digests, the manifest says " + std::to_string(info.count));
  }
  const std::size_t base = out.size();
  out.resize(base + info.count);
  auto* body = reinterpret_cast<std::uint8_t*>(out.data() + base);
  std::size_t remaining = info.count * Digest::kSize;
  while (remaining > 0) {
    std::size_t n = std::min(remaining, kIoChunk);
    if (auto s = read_exact(body, n); !s) return s;
    SHA256_Update(&sha, body, n);
    body += n;
    remaining -= n;
  }
  std::uint8_t trailer[kTrailerSize];
  if (auto s = read_exact(trailer, sizeof trailer); !s) return s;
  // One pass serves both checks: the trailer covers the body, the manifest covers body+trailer.
  SHA256_CTX whole = sha;
  std::uint8_t body_sha[SHA256_DIGEST_LENGTH];
  SHA256_Final(body_sha, &sha);
  if (std::memcmp(body_sha, trailer, sizeof trailer) != 0) {
    return Fail("shard " + name + " is corrupt (its trailer checksum does not match its content)");
  }
  SHA256_Update(&whole, trailer, sizeof trailer);
  std::uint8_t file_sha[SHA256_DIGEST_LENGTH];
  SHA256_Final(file_sha, &whole);
  if (HexEncode(file_sha, sizeof file_sha) != info.sha256) {
    return Fail("shard " + name + " does not match the checksum in manifest.json");
  }
  return {};
}

Status ReadJsonShard(const fs::path& path, const Manifest& m, std::size_t index,
                     const ShardInfo& info, std::vector<Digest>& out) {
  const std::string& name = info.file;
  // 64 hex + quotes + separators, with generous room for whitespace.
  auto text = ReadSmallFile(path, info.count * 128 + 4096);
  if (!text) return Fail(text.error());
  std::uint8_t sha[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const std::uint8_t*>(text->data()), text->size(), sha);
  if (HexEncode(sha, sizeof sha) != info.sha256) {
    return Fail("shard " + name + " does not match the checksum in manifest.json");
  }
  const std::size_t base = out.size();
  JsonShardSax sax(out);
  if (!nlohmann::json::sax_parse(text->begin(), text->end(), &sax) || !sax.error.empty()) {
    return Fail("shard " + name + ": " + (sax.error.empty() ? "invalid JSON" : sax.error));
  }
  if (!sax.scheme || !sax.shard || !sax.count || !sax.hashes_seen) {
    return Fail("shard " + name + " lacks one of scheme, shard, count, hashes");
  }
  if (*sax.scheme != ToString(m.scheme)) {
    return Fail("shard " + name + " was built with scheme '" + *sax.scheme +
                "', the manifest says '" + std::string(ToString(m.scheme)) + "'");
  }
  if (*sax.shard != index) {
    return Fail("shard " + name + " says it is shard " + std::to_string(*sax.shard) +
                ", the manifest lists it as shard " + std::to_string(index));
  }
  const std::uint64_t got = out.size() - base;
  if (*sax.count != info.count || got != info.count) {
    return Fail("shard " + name + " holds " + std::to_string(got) + " digests (count field " +
                std::to_string(*sax.count) + "), the manifest says " + std::to_string(info.count));
  }
  return {};
}

}  // namespace

std::string_view ToString(ShardFormat f) { return f == ShardFormat::kBin ? "bin" : "json"; }

std::optional<ShardFormat> ParseShardFormat(std::string_view s) {
  if (s == "bin") return ShardFormat::kBin;
  if (s == "json") return ShardFormat::kJson;
  return std::nullopt;
}

void SortDigests(std::span<Digest> digests, unsigned threads) {
  constexpr std::size_t kParallelMin = 1 << 16;
  if (threads <= 1 || digests.size() < kParallelMin) {
    std::sort(digests.begin(), digests.end(), DigestLess);
    return;
  }
  // In-place partition by the first byte (digests are uniform, so 256 buckets of similar size),
  // then the buckets are sorted independently by the threads.
  std::array<std::size_t, 257> start{};
  for (const Digest& d : digests) ++start[d.bytes[0] + 1];
  for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  std::array<std::size_t, 256> next;
  std::copy(start.begin(), start.end() - 1, next.begin());
  for (std::size_t b = 0; b < 256; ++b) {
    while (next[b] < start[b + 1]) {
      Digest& d = digests[next[b]];
      std::size_t target = d.bytes[0];
      if (target == b) {
        ++next[b];
      } else {
        std::swap(d, digests[next[target]++]);
      }
    }
  }
  std::atomic<std::size_t> bucket{0};
  auto work = [&] {
    for (std::size_t b; (b = bucket.fetch_add(1)) < 256;) {
      std::sort(digests.begin() + start[b], digests.begin() + start[b + 1], DigestLess);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

Result<Manifest> WriteHashDatabase(const fs::path& dir, HashScheme scheme, ShardFormat format,
                                   std::uint64_t shard_size, std::vector<Digest>& digests,
                                   const std::function<void(std::uint64_t)>& progress) {
  if (shard_size == 0) return Fail(std::string("shard size must be at least 1"));
  std::error_code ec;
  if (fs::exists(dir / kManifestName, ec)) {
    return Fail("'" + dir.string() + "' already holds a hash database (manifest.json); " +
                "choose another directory or remove it first");
  }
  fs::create_directories(dir, ec);
  if (ec) return Fail("cannot create directory '" + dir.string() + "': " + ec.message());
  // Without a manifest, any shard files here are leftovers of a failed write.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (IsShardFileName(entry.path().filename().string())) fs::remove(entry.path(), ec);
  }
  if (!std::is_sorted(digests.begin(), digests.end(), DigestLess)) SortDigests(digests, 1);
  digests.erase(std::unique(digests.begin(), digests.end()), digests.end());

  Manifest m;
  m.scheme = scheme;
  m.format = format;
  m.count = digests.size();
  std::vector<fs::path> written;
  auto fail = [&](std::string error) -> Result<Manifest> {
    for (const auto& p : written) fs::remove(p, ec);
    return Fail(std::move(error));
  };
  std::uint64_t done = 0;
  for (std::size_t index = 0; done < digests.size(); ++index) {
    std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(shard_size, digests.size() - done));
    std::span<const Digest> slice(digests.data() + done, n);
    ShardInfo info{ShardName(index, format), n, ""};
    fs::path path = dir / info.file;
    auto sha = format == ShardFormat::kBin ? WriteBinShard(path, scheme, index, slice)
                                           : WriteJsonShard(path, scheme, index, slice);
    if (!sha) return fail(sha.error());
    written.push_back(path);
    info.sha256 = std::move(*sha);
    m.shards.push_back(std::move(info));
    done += n;
    if (progress) progress(done);
  }

  nlohmann::ordered_json j;
  j["version"] = m.version;
  j["scheme"] = ToString(m.scheme);
  j["format"] = ToString(m.format);
  j["count"] = m.count;
  j["shards"] = nlohmann::ordered_json::array();
  for (const auto& s : m.shards) {
    j["shards"].push_back({{"file", s.file}, {"count", s.count}, {"sha256", s.sha256}});
  }
  ShardWriter w;
  if (auto s = w.Open(dir / kManifestName); !s) return fail(s.error());
  if (auto s = w.Write(j.dump(2) + "\n"); !s) return fail(s.error());
  if (auto s = w.Commit(); !s) return fail(s.error());
  if (auto s = SyncDirectory(dir); !s) return Fail(s.error());
  return m;
}

Result<Manifest> ReadManifest(const fs::path& dir) {
  const fs::path path = dir / kManifestName;
  auto text = ReadSmallFile(path, kMaxManifestBytes);
  if (!text) return Fail(text.error());
  auto j = nlohmann::json::parse(*text, nullptr, false);
  const std::string where = "'" + path.string() + "': ";
  if (j.is_discarded() || !j.is_object()) return Fail(where + "not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "version" && key != "scheme" && key != "format" && key != "count" &&
        key != "shards") {
      return Fail(where + "unknown key '" + key.substr(0, 64) + "'");
    }
  }
  auto uint_field = [&](const nlohmann::json& obj,
                        const char* key) -> std::optional<std::uint64_t> {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
  };
  auto str_field = [&](const nlohmann::json& obj, const char* key) -> std::optional<std::string> {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  Manifest m;
  auto version = uint_field(j, "version");
  if (!version || *version != 1) return Fail(where + "unsupported or missing version (expected 1)");
  auto scheme = str_field(j, "scheme");
  if (!scheme || !ParseHashScheme(*scheme)) {
    return Fail(where + "scheme must be \"hmac-sha256\" or \"sha256\"");
  }
  m.scheme = *ParseHashScheme(*scheme);
  auto format = str_field(j, "format");
  if (!format || !ParseShardFormat(*format))
    return Fail(where + "format must be \"bin\" or \"json\"");
  m.format = *ParseShardFormat(*format);
  auto count = uint_field(j, "count");
  if (!count) return Fail(where + "count must be a non-negative integer");
  m.count = *count;
  auto shards = j.find("shards");
  if (shards == j.end() || !shards->is_array()) return Fail(where + "shards must be an array");
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < shards->size(); ++i) {
    const auto& s = (*shards)[i];
    const std::string at = where + "shard #" + std::to_string(i) + ": ";
    if (!s.is_object() || s.size() != 3) return Fail(at + "must be {file, count, sha256}");
    ShardInfo info;
    auto file = str_field(s, "file");
    // The name comes from a file on disk: only our own shard names, never a path elsewhere.
    if (!file || *file != ShardName(i, m.format)) {
      return Fail(at + "file must be '" + ShardName(i, m.format) + "'");
    }
    info.file = *file;
    auto n = uint_field(s, "count");
    if (!n || *n == 0) return Fail(at + "count must be a positive integer");
    info.count = *n;
    auto sha = str_field(s, "sha256");
    std::uint8_t raw[SHA256_DIGEST_LENGTH];
    if (!sha || !HexDecode(*sha, raw, sizeof raw)) return Fail(at + "sha256 must be 64 hex");
    info.sha256 = HexEncode(raw, sizeof raw);
    total += info.count;
    m.shards.push_back(std::move(info));
  }
  if (total != m.count) {
    return Fail(where + "count " + std::to_string(m.count) + " differs from the shards' total " +
                std::to_string(total));
  }
  return m;
}

Status ReadHashDatabase(const fs::path& dir, const Manifest& manifest, std::vector<Digest>& out) {
  out.reserve(out.size() + manifest.count);
  const std::size_t first = out.size();
  for (std::size_t i = 0; i < manifest.shards.size(); ++i) {
    const ShardInfo& info = manifest.shards[i];
    const std::size_t base = out.size();
    Status s = manifest.format == ShardFormat::kBin
                   ? ReadBinShard(dir / info.file, manifest, i, info, out)
                   : ReadJsonShard(dir / info.file, manifest, i, info, out);
    if (!s) return s;
    // Strictly ascending within the shard and after the previous shard's last digest.
    for (std::size_t k = std::max(base, first + 1); k < out.size(); ++k) {
      if (!DigestLess(out[k - 1], out[k])) {
        return Fail("shard " + info.file + " is not in strictly ascending order at digest #" +
                    std::to_string(k - base + 1));
      }
    }
  }
  return {};
}

}  // namespace scrutin::core

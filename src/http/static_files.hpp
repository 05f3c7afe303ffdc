// StaticFiles: the web UI's files (voter and results pages), loaded from the web root once at
// start-up and served from memory.
//
// Only files found under the root at load time can ever be served: a request path is a key in a
// map, never joined to a filesystem path, so "..", encoded slashes or NUL bytes cannot reach
// anything else. Hidden files and directories (a name starting with '.') are skipped. Changing
// the files requires a restart.
// Private to src/http: other modules use its public headers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace scrutin::http {

// Content-Type for a file extension (without the dot, lower case); application/octet-stream for
// anything unknown. The returned view points to static storage.
std::string_view MimeType(std::string_view extension);

// Percent-decodes a URL path. nullopt on a malformed escape or a decoded NUL byte.
std::optional<std::string> DecodeUrlPath(std::string_view path);

class StaticFiles {
 public:
  static constexpr std::uint64_t kMaxFileSize = 16 * 1024 * 1024;
  static constexpr std::uint64_t kMaxTotalSize = 256 * 1024 * 1024;
  static constexpr std::size_t kMaxFiles = 10000;

  struct File {
    std::string body;
    std::string_view content_type;
    std::string etag;  // quoted strong validator over the content
  };

  // Loads every regular file under `root`. Error naming the path when `root` is not a readable
  // directory, a file cannot be read, or the limits above are exceeded.
  static core::Result<StaticFiles> Load(const std::filesystem::path& root);

  // A single built-in page at "/" for when no web root is configured.
  static StaticFiles Placeholder();

  // The file for a request path (raw, still percent-encoded, without the query): "/" and paths
  // ending in "/" map to that directory's index.html. nullptr when there is no such file.
  const File* Find(std::string_view url_path) const;

  std::size_t size() const { return files_.size(); }

 private:
  void Add(std::string key, std::string body);

  std::map<std::string, File, std::less<>> files_;  // key: relative path with '/' separators
};

}  // namespace scrutin::http

#include "http/static_files.hpp"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <system_error>

namespace scrutin::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::string_view kPlaceholder = R"(<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>scrutin</title></head>
<body>
<h1>scrutin</h1>
<p>Le serveur de vote fonctionne. L'interface web n'est pas installée sur cette instance.</p>
<p lang="en">The voting server is running. The web interface is not installed on this instance.</p>
<p><a href="/api/v1/laws">/api/v1/laws</a> · <a href="/api/v1/health">/api/v1/health</a></p>
</body>
</html>
)";

}  // namespace

std::string_view MimeType(std::string_view ext) {
  static const std::map<std::string_view, std::string_view, std::less<>> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"txt", "text/plain; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"wasm", "application/wasm"},
      {"pdf", "application/pdf"},
  };
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? std::string_view("application/octet-stream") : it->second;
}

std::optional<std::string> DecodeUrlPath(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;
      int hi = HexValue(path[i + 1]);
      int lo = HexValue(path[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

void StaticFiles::Add(std::string key, std::string body) {
  File f;
  auto dot = key.rfind('.');
  auto slash = key.rfind('/');
  std::string ext;
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    ext = key.substr(dot + 1);
    for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  f.content_type = MimeType(ext);
  char etag[32];
  std::snprintf(etag, sizeof etag, "\"%016zx-%zx\"", std::hash<std::string>{}(body), body.size());
  f.etag = etag;
  f.body = std::move(body);
  files_.insert_or_assign(std::move(key), std::move(f));
}

core::Result<StaticFiles> StaticFiles::Load(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return core::Fail("web root " + root.string() + " is not a directory");
  }
  StaticFiles files;
  std::uint64_t total = 0;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) return core::Fail("cannot read web root " + root.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return core::Fail("cannot read web root " + root.string() + ": " + ec.message());
    const fs::path& p = it->path();
    if (p.filename().string().starts_with('.')) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    auto size = it->file_size(ec);
    if (ec) return core::Fail("cannot read " + p.string() + ": " + ec.message());
    if (size > kMaxFileSize) {
      return core::Fail("web file " + p.string() + " is larger than 16 MiB");
    }
    total += size;
    if (total > kMaxTotalSize || files.files_.size() >= kMaxFiles) {
      return core::Fail("web root " + root.string() + " holds more than 256 MiB or 10000 files");
    }
    std::ifstream in(p, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in && !in.eof()) return core::Fail("cannot read " + p.string());
    files.Add(fs::relative(p, root).generic_string(), std::move(body).str());
  }
  return files;
}

StaticFiles StaticFiles::Placeholder() {
  StaticFiles files;
  files.Add("index.html", std::string(kPlaceholder));
  return files;
}

const StaticFiles::File* StaticFiles::Find(std::string_view url_path) const {
  auto decoded = DecodeUrlPath(url_path);
  if (!decoded || decoded->empty() || decoded->front() != '/') return nullptr;
  std::string key = decoded->substr(1);
  if (key.empty() || key.back() == '/') key += "index.html";
  auto it = files_.find(key);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace scrutin::http

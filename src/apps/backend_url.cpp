#include "apps/backend_url.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>

#include "apps/startup.hpp"
#include "core/secret_file.hpp"

namespace scrutin::apps {
namespace {

// A URL with its query string (amqps://...?cacertfile=...) is far below this.
constexpr std::size_t kMaxUrlFileBytes = 8192;

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return c == '-' ? '_' : static_cast<char>(std::toupper(c));
  });
  return s;
}

}  // namespace

std::string BackendUrl::Get() const {
  if (file.empty()) return url;
  std::string text =
      Require(core::ReadSecretFile(file, what, kMaxUrlFileBytes), "cannot use " + flag + "-file");
  std::string line = text.substr(0, text.find('\n'));
  OPENSSL_cleanse(text.data(), text.size());
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  if (line.empty()) {
    throw CommandError(flag + "-file '" + file + "' is empty: its first line must be the " + what);
  }
  return line;
}

void AddBackendUrlFlags(CLI::App* cmd, BackendUrl& value, const std::string& name,
                        const std::string& what, const std::string& url_help, bool required) {
  value.flag = "--" + name;
  value.what = what;
  const std::string env = "SCRUTIN_" + Upper(name);
  auto* group = cmd->add_option_group(what);
  group->add_option(value.flag, value.url, url_help)->envname(env);
  group
      ->add_option(value.flag + "-file", value.file,
                   "File whose first line is the " + what + " (instead of " + value.flag +
                       ": keeps its password out of the command line and the environment). "
                       "Mode 0600 or 0400, or 0440 when root owns it (a Kubernetes Secret with "
                       "fsGroup)")
      ->envname(env + "_FILE");
  if (required) {
    group->require_option(1);
  } else {
    group->require_option(0, 1);
  }
}

}  // namespace scrutin::apps

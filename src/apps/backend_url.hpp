// The URLs of the backends (PostgreSQL, RabbitMQ, Redis), which carry a password: each is given
// either as a flag's value (--pg URL, SCRUTIN_PG) or, to keep the password out of the command line,
// the environment and `ps`, as a file holding it (--pg-file FILE, SCRUTIN_PG_FILE): a Docker or
// Kubernetes secret mounted at /run/secrets/... (deploy/README.md). Every command that takes one of
// these flags registers it here, so the rule is the same everywhere.
// Private to src/apps.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace scrutin::apps {

// One backend URL as the command line gave it: `url` or `file` (never both: the parser refuses).
struct BackendUrl {
  std::string url = {};
  std::string file = {};
  std::string flag = {};  // "--pg": names the flags in errors
  std::string what = {};  // "PostgreSQL URL"

  // The URL: `url`, or the first line of `file` with trailing whitespace (newline, CR, spaces)
  // removed. The file is checked like every secret file (core::CheckSecretFileMode: owner-only, or
  // root-owned and group-readable, as a Kubernetes Secret volume with fsGroup is). CommandError,
  // naming the flag and the file but never the URL, when the file cannot be read, is open to
  // others, is longer than 8 KiB, or its first line is empty.
  std::string Get() const;
};

// Registers --<name> (SCRUTIN_<NAME>) and --<name>-file (SCRUTIN_<NAME>_FILE) in an option group
// of `cmd`: exactly one of the two when `required`, at most one otherwise (both given, from flags
// or the environment, is a CLI::RequiredError naming both). `name` is "pg", "amqp" or "redis";
// `url_help` says what the URL looks like.
void AddBackendUrlFlags(CLI::App* cmd, BackendUrl& value, const std::string& name,
                        const std::string& what, const std::string& url_help, bool required = true);

}  // namespace scrutin::apps

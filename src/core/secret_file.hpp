// Secret files: the keys, the admin token and the backend URLs that carry a password, as a
// process is given them at start-up (a file, never a flag's value: docs/operations.md). One rule
// for who may read such a file, applied to all of them, and a bounded reader.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace scrutin::core {

// Whether a file with status `st` may hold a secret for a process whose effective user is `euid`.
// PostgreSQL's rule for its server key (be-secure-common.c), for the same reason:
//   - it must be a regular file (not a FIFO that would hang start-up, not a directory);
//   - owned by this process's user (or by anyone but root): readable and writable by its owner
//     only (0600, 0400), like ssh with a private key;
//   - owned by root, the process not being root: its group may also read it (0640, 0440), never
//     write or execute it; others get nothing.
// Why the root case is safe: only root can give a root-owned file a group, so root chose who reads
// it. That is the shape of a Kubernetes Secret volume with fsGroup (root:<fsGroup>, defaultMode
// plus g+r, the process running as a non-root user in that group) and of a root-managed host
// (root:scrutin 0440). A file a user made group-readable themselves (a umask of 022 or 027) may
// be open to a group shared with others, which is what this check exists to catch.
// Error (one sentence naming the file, its mode and the chmod that fixes it; `what` names the
// secret, e.g. "election key") otherwise.
Status CheckSecretFileMode(const struct stat& st, unsigned euid, const std::string& name,
                           std::string_view what);

// CheckSecretFileMode on the open file `fd`, for this process's effective user.
Status CheckSecretFile(int fd, const std::string& name, std::string_view what);

// The whole content of the secret file at `path`, opened without following a FIFO's block,
// checked by CheckSecretFile, and read only up to `max_bytes` (a longer file is refused unread).
// Errors name the file and never contain its content.
Result<std::string> ReadSecretFile(const std::filesystem::path& path, std::string_view what,
                                   std::size_t max_bytes);

}  // namespace scrutin::core

// Process hygiene: what every scrutin command does before it reads a key, a credential or a vote,
// so that a crash or an unprivileged debugger cannot copy them out of memory (docs/architecture.md
// "Threat model": a reader of any store, a log shipper, must learn no NAS or code; a core file is a
// store).
//
//   - no core file: RLIMIT_CORE soft and hard limits set to 0 (the hard one too, so nothing later
//     in the process, nor a child, can raise it again);
//   - not dumpable: prctl(PR_SET_DUMPABLE, 0), so no core either through a core_pattern pipe, and
//     no ptrace attach or /proc/PID/mem, environ or maps read by another process of the same user
//     (root keeps CAP_SYS_PTRACE: that operator is out of the threat model).
//
// Key material is further kept in MADV_DONTDUMP pages (core/secure_memory.hpp).
// Private to src/apps: other modules use its public headers.
#pragma once

#include "core/result.hpp"

namespace scrutin::apps {

// Applies both settings to the calling process. Error (one sentence) when either cannot be set;
// the caller should then refuse to run. Idempotent; call it before any thread is started.
core::Status ApplyProcessHygiene();

}  // namespace scrutin::apps

// Structured logging for the scrutin processes: one JSON object per line on stderr,
//   {"ts":"2026-11-01T12:00:00.000Z","level":"info","event":"listening","address":"127.0.0.1:8000"}
// Events are named in snake_case; fields are values an operator can act on. Never a NAS, a code or
// a request id: the callers pass digests, counts and settings only.
// Private to src/apps: other modules use its public headers.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace scrutin::apps {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Sets up the stderr sink once (idempotent). Thread-safe afterwards.
void InitLogging();
void LogEvent(LogLevel level, std::string_view event,
              nlohmann::json fields = nlohmann::json::object());

}  // namespace scrutin::apps

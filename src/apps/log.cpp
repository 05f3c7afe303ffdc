#include "apps/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/vote.hpp"

namespace scrutin::apps {
namespace {

std::shared_ptr<spdlog::logger>& Logger() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}

}  // namespace

void InitLogging() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto logger = spdlog::stderr_logger_mt("scrutin");
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::debug);
    logger->flush_on(spdlog::level::debug);
    Logger() = logger;
  });
}

void LogEvent(LogLevel level, std::string_view event, nlohmann::json fields) {
  InitLogging();
  static constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = core::FormatTimestamp(core::Clock::now());
  line["level"] = kNames[static_cast<int>(level)];
  line["event"] = event;
  for (auto& [k, v] : fields.items()) line[k] = v;
  Logger()->info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace scrutin::apps

#include "apps/administration.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "apps/commands.hpp"
#include "apps/log.hpp"

namespace scrutin::apps {
namespace {

constexpr std::size_t kMinTokenChars = 32;

http::AdminRefusal Refusal(const pipeline::ControlError& e) {
  switch (e.refusal) {
    case pipeline::ControlRefusal::kUnknownLaw:
      return {404, "unknown_law", e.message};
    case pipeline::ControlRefusal::kLawClosed:
      return {409, "law_closed", e.message};
    case pipeline::ControlRefusal::kTooEarly:
      return {422, "closes_at_too_early", e.message};
    case pipeline::ControlRefusal::kRecordSealed:
      return {409, "record_sealed", e.message};
    case pipeline::ControlRefusal::kUnavailable:
      break;
  }
  return {503, "unavailable", e.message};
}

}  // namespace

std::string LoadAdminToken(const std::string& file) {
  if (file.empty()) return {};
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    throw CommandError("cannot read the admin token file '" + file + "'");
  }
  if ((st.st_mode & 077) != 0) {
    throw CommandError("the admin token file '" + file +
                       "' can be read by other users: run chmod 600 on it");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (!in || token.size() < kMinTokenChars ||
      token.find_first_of(" \t\r\n") != std::string::npos) {
    throw CommandError("the admin token in '" + file +
                       "' must be one line of at least 32 characters without spaces (e.g. "
                       "`openssl rand -hex 32`)");
  }
  return token;
}

void AddAdminTokenFlag(CLI::App* cmd, std::string& file) {
  cmd->add_option("--admin-token-file", file,
                  "File holding the admin port's bearer token (one line, at least 32 characters, "
                  "mode 0600): every request to --admin-listen must carry it, and the law actions "
                  "(emergency close, extension) are enabled only with it")
      ->envname("SCRUTIN_ADMIN_TOKEN_FILE");
}

http::LawActions MakeLawActions(pipeline::LawControl& control, const std::string& role) {
  http::LawActions actions;
  actions.close = [&control](const std::string& law_id) -> core::Result<core::Law, http::AdminRefusal> {
    auto law = control.Close(law_id);
    if (!law) return core::Fail(Refusal(law.error()));
    return *law;
  };
  actions.extend = [&control](const std::string& law_id, core::Timestamp closes_at)
      -> core::Result<core::Law, http::AdminRefusal> {
    auto law = control.Extend(law_id, closes_at);
    if (!law) return core::Fail(Refusal(law.error()));
    return *law;
  };
  actions.on_action = [role](std::string_view action, const core::Law& law) {
    LogEvent(LogLevel::kWarn, "admin_action",
             {{"action", std::string(action)},
              {"law_id", law.id},
              {"closes_at", core::FormatTimestamp(law.ClosesAt())},
              {"configured_closes_at", core::FormatTimestamp(law.closes_at)},
              {"role", role}});
  };
  return actions;
}

}  // namespace scrutin::apps

#include "apps/administration.hpp"

#include "apps/commands.hpp"
#include "apps/log.hpp"
#include "apps/startup.hpp"
#include "core/secret_file.hpp"

namespace scrutin::apps {
namespace {

constexpr std::size_t kMinTokenChars = 32;
constexpr std::size_t kMaxTokenFileBytes = 4096;

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
  // Who may read it: core::CheckSecretFileMode (owner only, or a root-owned file its group may
  // read, as a Kubernetes Secret volume with fsGroup is).
  std::string token = Require(core::ReadSecretFile(file, "admin token", kMaxTokenFileBytes),
                              "cannot use the admin token");
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.size() < kMinTokenChars || token.find_first_of(" \t\r\n") != std::string::npos) {
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

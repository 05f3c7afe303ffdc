// The admin port's flags and actions, shared by `serve` and `api` (docs/operations.md "Emergency
// close and extension"): --admin-listen and --admin-token-file; the emergency close and extension
// wired to pipeline::LawControl, each action logged (`admin_action`) after the store wrote its
// audit row. docs/operations.md "Emergency close and extension" is the operator's side.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "http/admin.hpp"
#include "pipeline/law_control.hpp"

namespace scrutin::apps {

// The admin token in `file` (empty path: ""): its content without the trailing newline. Refused
// (CommandError) when the file cannot be read, is open to others beyond core::CheckSecretFileMode
// (core/secret_file.hpp), or holds fewer than 32 characters (`openssl rand -hex 32 > admin.token`).
std::string LoadAdminToken(const std::string& file);

// Registers --admin-token-file (SCRUTIN_ADMIN_TOKEN_FILE).
void AddAdminTokenFlag(CLI::App* cmd, std::string& file);

// The admin port's law actions over `control` (which must outlive them).
http::LawActions MakeLawActions(pipeline::LawControl& control, const std::string& role);

}  // namespace scrutin::apps

// The SHA-1 of a Lua script's text in lowercase hex: the name EVALSHA calls it by (Redis computes
// the same digest on SCRIPT LOAD). Internal to the Redis adapter (the claim and load scripts).
#pragma once

#include <string>
#include <string_view>

namespace scrutin::redis {

// Pure; callable from any thread.
std::string ScriptSha(std::string_view script);

}  // namespace scrutin::redis

#include "adapters/redis/lua_script.hpp"

#include <openssl/evp.h>

#include <vector>

#include "core/digest.hpp"

namespace scrutin::redis {

std::string ScriptSha(std::string_view script) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(script.data(), script.size(), md, &len, EVP_sha1(), nullptr);
  return core::HexEncode(md, len);
}

Command LuaScript::Call(std::string key) const {
  Command c;
  c.args = {"EVALSHA", sha_, "1", std::move(key)};
  c.key_arg = 3;
  return c;
}

core::Status LuaScript::Load(RedisClient& client) const {
  for (const auto& node : client.Masters()) {
    auto reply = client.ExecuteOn(node, Command::Keyless({"SCRIPT", "LOAD", text_}));
    if (!reply.ok()) return core::Fail(core::ErrorCode::kUnavailable, reply.error());
    if (reply->is_error()) {
      return core::Fail(core::ErrorCode::kUnavailable,
                        "redis " + node.ToString() + ": SCRIPT LOAD: " + reply->str);
    }
  }
  return {};
}

core::Status LuaScript::Execute(RedisClient& client, std::span<const Command> commands,
                                std::span<Reply> replies) const {
  if (auto st = client.Execute(commands, replies); !st.ok()) {
    return core::Fail(core::ErrorCode::kUnavailable, st.error());
  }
  std::vector<Command> retry;
  std::vector<std::size_t> retry_index;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error() && replies[i].str.rfind("NOSCRIPT", 0) == 0) {
      Command c = commands[i];
      c.args[0] = "EVAL";
      c.args[1] = std::string(text_);
      retry.push_back(std::move(c));
      retry_index.push_back(i);
    }
  }
  if (retry.empty()) return {};
  std::vector<Reply> again(retry.size());
  if (auto st = client.Execute(retry, again); !st.ok()) {
    return core::Fail(core::ErrorCode::kUnavailable, st.error());
  }
  for (std::size_t k = 0; k < retry.size(); ++k) replies[retry_index[k]] = std::move(again[k]);
  (void)Load(client);  // so that the next calls use EVALSHA again
  return {};
}

}  // namespace scrutin::redis

#include "adapters/redis/script_sha.hpp"

#include <openssl/evp.h>

#include "core/digest.hpp"

namespace scrutin::redis {

std::string ScriptSha(std::string_view script) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(script.data(), script.size(), md, &len, EVP_sha1(), nullptr);
  return core::HexEncode(md, len);
}

}  // namespace scrutin::redis

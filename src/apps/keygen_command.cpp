// `scrutin keygen --out FILE`: a fresh election key for the hmac-sha256 scheme.
// `scrutin keygen --ballot-key --out FILE`: a fresh ballot key, which seals each vote at the api
// and opens it in the mixer (docs/ballot-secrecy.md). Same format: 32 random bytes as 64 hex
// characters and a newline, mode 0600, never overwritten.
// `scrutin keygen --record-key --out FILE`: a fresh Ed25519 record key (PKCS#8 PEM, mode 0600,
// never overwritten), which signs each closed law's record; its public key is printed, to be
// published before the poll opens.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "apps/commands.hpp"
#include "apps/startup.hpp"
#include "core/credential.hpp"
#include "core/digest.hpp"
#include "core/record.hpp"

namespace scrutin::apps {
namespace {

enum class KeyKind { kElection, kBallot, kRecord };

void Write(const std::string& out, std::string& text, KeyKind kind) {
  struct Wiper {
    std::string& s;
    ~Wiper() { OPENSSL_cleanse(s.data(), s.size()); }
  } wiper{text};
  const std::string error = WriteNewSecretFile(out, text);
  if (error == "it already exists") {
    throw CommandError(
        "'" + out + "' already exists; refusing to overwrite " +
        (kind == KeyKind::kBallot   ? std::string("a ballot key (ballots sealed with it would no "
                                                  "longer open)")
         : kind == KeyKind::kRecord ? std::string("a record key (its public key may already be "
                                                  "published)")
                                    : std::string("an election key (digests made with it would "
                                                  "no longer match)")));
  }
  if (!error.empty()) throw CommandError("cannot create key file '" + out + "': " + error);
}

void RunKeygen(const std::string& out, KeyKind kind) {
  if (kind == KeyKind::kRecord) {
    auto signer = core::RecordSigner::Generate();
    if (!signer) throw CommandError("cannot generate a record key: " + signer.error());
    auto pem = signer->PrivatePem();
    if (!pem) throw CommandError("cannot write the record key: " + pem.error());
    Write(out, *pem, kind);
    std::printf("keygen: wrote a new Ed25519 record key to %s (mode 0600); give it only to serve "
                "or the aggregators. Publish its public key before the poll opens:\n%s\n",
                out.c_str(), signer->PublicKeyHex().c_str());
    return;
  }
  std::uint8_t key[core::kElectionKeySize];
  if (RAND_bytes(key, sizeof key) != 1) {
    throw CommandError("the system's random generator failed; no key written");
  }
  std::string text = core::HexEncode(key, sizeof key) + "\n";
  OPENSSL_cleanse(key, sizeof key);
  Write(out, text, kind);
  const bool ballot_key = kind == KeyKind::kBallot;
  std::printf("keygen: wrote a new 32-byte %s to %s (mode 0600); keep it secret and give it only "
              "to %s\n",
              ballot_key ? "ballot key" : "election key", out.c_str(),
              ballot_key ? "the API (or serve) and the aggregators, never beside the vote store"
                         : "hashgen and the API");
}

}  // namespace

void AddKeygenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "keygen",
      "Write a fresh key, mode 0600: an election key (default), a ballot key or a record key");
  auto out = std::make_shared<std::string>();
  auto ballot_key = std::make_shared<bool>(false);
  auto record_key = std::make_shared<bool>(false);
  cmd->add_option("--out", *out, "Key file to create (never overwritten)")->required();
  cmd->add_flag("--ballot-key", *ballot_key,
                "Write a ballot key (seals votes at the API, opened by the mixer) instead of an "
                "election key");
  cmd->add_flag("--record-key", *record_key,
                "Write a record key (Ed25519, PEM: signs each closed law's published record) "
                "instead of an election key; its public key is printed")
      ->excludes("--ballot-key");
  cmd->callback([out, ballot_key, record_key] {
    RunKeygen(*out, *record_key   ? KeyKind::kRecord
                    : *ballot_key ? KeyKind::kBallot
                                  : KeyKind::kElection);
  });
}

}  // namespace scrutin::apps

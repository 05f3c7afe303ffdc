// The record of a closed law (docs/ballot-secrecy.md "The record at the close"): what the system
// publishes once a law's last group is counted, signed so that anyone holding the election's
// published record key can check it without trusting the server that served it.
//
//   {"law_id", "opens_at", "closes_at", "sealed_at",
//    "tally": {"oui", "non", "total"},
//    "reconciliation": {"accepted", "claims", "ballots", "receipts", "tallied"
//                       [, "differences": {<count>: <count minus accepted>, ...}]},
//    "receipts": {"count", "sha256", "url"},
//    "signature": {"algorithm": "ed25519", "public_key": <64 hex>, "value": <128 hex>}}
//
// The signature is Ed25519 over CanonicalJson(record without "signature"): keys sorted at every
// level, no whitespace, UTF-8 (what Python's json.dumps(r, sort_keys=True, separators=(",", ":"),
// ensure_ascii=False) writes). The receipts list is every counted receipt, sorted bytewise, one
// per line with "\n" after each; "sha256" is the hex SHA-256 of exactly those bytes.
//
// Thread-safety: RecordSigner is immutable once made (copies share the key); the functions are
// pure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ballot.hpp"
#include "core/result.hpp"

namespace scrutin::core {

inline constexpr std::size_t kRecordPublicKeyHexChars = 64;
inline constexpr std::size_t kRecordSignatureHexChars = 128;

// Every count the system keeps of a law's accepted votes, each read from its own store.
struct Reconciliation {
  std::uint64_t accepted = 0;  // accepted request statuses
  std::uint64_t claims = 0;    // credential claims (the voted set)
  std::uint64_t ballots = 0;   // plaintext ballots written by the mixer
  std::uint64_t receipts = 0;  // receipts written by the mixer
  std::uint64_t tallied = 0;   // oui + non in the tally
};

// What a record is built from (the store reads it in one transaction when the law's last group
// has been counted).
struct RecordContent {
  std::string law_id;
  Timestamp opens_at;
  Timestamp closes_at;
  Timestamp sealed_at;
  std::uint64_t oui = 0;
  std::uint64_t non = 0;
  Reconciliation reconciliation;
  std::uint64_t receipt_count = 0;     // lines in receipts_text
  std::string receipts_sha256;         // ReceiptsDigest(receipts_text)
};

// A sealed record as stored and served: the signed JSON (CanonicalJson of SignedRecord) and the
// receipts list.
struct PublishedRecord {
  std::string record;
  std::string receipts;
};

// The Ed25519 record key (`scrutin keygen --record-key`): a PKCS#8 PEM private key.
class RecordSigner {
 public:
  static Result<RecordSigner> Generate();
  // kCorrupt when the text is not a PEM Ed25519 private key.
  static Result<RecordSigner> FromPem(std::string_view pem);
  // As FromPem, from a file (kUnavailable when it cannot be read).
  static Result<RecordSigner> Load(const std::filesystem::path& path);

  // The PKCS#8 PEM text of the private key (what keygen writes).
  Result<std::string> PrivatePem() const;
  // The raw 32-byte public key in lowercase hex (what is published before the poll opens).
  const std::string& PublicKeyHex() const { return public_hex_; }
  // The 64-byte signature of `message`, lowercase hex.
  Result<std::string> SignHex(std::string_view message) const;

 private:
  struct Key;
  RecordSigner(std::shared_ptr<const Key> key, std::string public_hex)
      : key_(std::move(key)), public_hex_(std::move(public_hex)) {}
  std::shared_ptr<const Key> key_;
  std::string public_hex_;
};

// True when `signature_hex` is a valid Ed25519 signature of `message` by `public_key_hex`.
bool VerifyEd25519(std::string_view public_key_hex, std::string_view message,
                   std::string_view signature_hex);

// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// Keys sorted at every level, "," and ":" separators, UTF-8 unescaped.
std::string CanonicalJson(const nlohmann::json& value);

// Sorts and de-duplicates `receipts`, and writes them one per line.
std::string ReceiptsText(std::vector<std::string> receipts);

// Where a law's receipts list is served.
std::string RecordReceiptsUrl(std::string_view law_id);

// The record's JSON without its signature.
nlohmann::json UnsignedRecord(const RecordContent& content);

// `content`'s record, signed with `signer`.
Result<nlohmann::json> SignedRecord(const RecordContent& content, const RecordSigner& signer);

// What an auditor checks, given the record and the receipts list served with it: the shape, the
// signature (by `expected_public_key` when not empty: the key published before the poll), the
// receipts' SHA-256, count, order and uniqueness, the tally's total, and that every
// reconciliation count equals the number of accepted votes. Returns every problem found, each a
// sentence naming what differs; empty when the record holds.
std::vector<std::string> VerifyRecord(const nlohmann::json& record, std::string_view receipts_text,
                                      std::string_view expected_public_key = {});

}  // namespace scrutin::core

#include "core/record.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "core/digest.hpp"

namespace scrutin::core {

struct RecordSigner::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

constexpr std::size_t kPublicKeySize = 32;
constexpr std::size_t kSignatureSize = 64;

Result<std::string> PublicHex(EVP_PKEY* pkey) {
  std::array<std::uint8_t, kPublicKeySize> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len) != 1 || len != raw.size()) {
    return Fail(std::string("OpenSSL cannot give the record key's public half"));
  }
  return HexEncode(raw.data(), raw.size());
}

}  // namespace

Result<RecordSigner> RecordSigner::Generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return Fail(std::string("OpenSSL cannot generate an Ed25519 key"));
  auto key = std::make_shared<Key>();
  key->pkey = raw;
  auto pub = PublicHex(raw);
  if (!pub) return Fail(pub.error());
  return RecordSigner(std::move(key), std::move(*pub));
}

Result<RecordSigner> RecordSigner::FromPem(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return Fail(std::string("out of memory reading the record key"));
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    return Fail(ErrorCode::kCorrupt,
                std::string("not a PEM private key (expected the file written by `scrutin keygen "
                            "--record-key`)"));
  }
  auto key = std::make_shared<Key>();
  key->pkey = raw;
  if (EVP_PKEY_get_id(raw) != EVP_PKEY_ED25519) {
    return Fail(ErrorCode::kCorrupt, std::string("the record key is not an Ed25519 key"));
  }
  auto pub = PublicHex(raw);
  if (!pub) return Fail(pub.error());
  return RecordSigner(std::move(key), std::move(*pub));
}

Result<RecordSigner> RecordSigner::Load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Fail(ErrorCode::kUnavailable,
                fmt::format("cannot read the record key file '{}'", path.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto signer = FromPem(text.str());
  std::string s = text.str();
  OPENSSL_cleanse(s.data(), s.size());
  if (!signer) {
    return Fail(signer.code(),
                fmt::format("record key file '{}': {}", path.string(), signer.error()));
  }
  return signer;
}

Result<std::string> RecordSigner::PrivatePem() const {
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_->pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Fail(std::string("OpenSSL cannot write the record key as PEM"));
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<std::size_t>(len));
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return pem;
}

Result<std::string> RecordSigner::SignHex(std::string_view message) const {
  MdCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::array<std::uint8_t, kSignatureSize> sig{};
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != sig.size()) {
    return Fail(std::string("OpenSSL cannot sign the record"));
  }
  return HexEncode(sig.data(), sig.size());
}

bool VerifyEd25519(std::string_view public_key_hex, std::string_view message,
                   std::string_view signature_hex) {
  std::array<std::uint8_t, kPublicKeySize> pub{};
  std::array<std::uint8_t, kSignatureSize> sig{};
  if (public_key_hex.size() != 2 * pub.size() || signature_hex.size() != 2 * sig.size() ||
      !HexDecode(public_key_hex, pub.data(), pub.size()) ||
      !HexDecode(signature_hex, sig.data(), sig.size())) {
    return false;
  }
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub.data(), pub.size()),
            &EVP_PKEY_free);
  MdCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!pkey || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string Sha256Hex(std::string_view bytes) {
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> md{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr);
  return HexEncode(md.data(), md.size());
}

std::string CanonicalJson(const nlohmann::json& value) {
  // nlohmann::json keeps object members in a std::map (sorted by key, bytewise) and dump() with no
  // indent writes "," and ":" with no whitespace; ensure_ascii is off by default.
  return value.dump();
}

std::string ReceiptsText(std::vector<std::string> receipts) {
  std::sort(receipts.begin(), receipts.end());
  receipts.erase(std::unique(receipts.begin(), receipts.end()), receipts.end());
  std::string text;
  text.reserve(receipts.size() * 20);
  for (const auto& r : receipts) {
    text += r;
    text += '\n';
  }
  return text;
}

std::string RecordReceiptsUrl(std::string_view law_id) {
  return fmt::format("/api/v1/record/{}/receipts", law_id);
}

nlohmann::json UnsignedRecord(const RecordContent& c) {
  const Reconciliation& r = c.reconciliation;
  nlohmann::json reconciliation = {{"accepted", r.accepted},
                                   {"claims", r.claims},
                                   {"ballots", r.ballots},
                                   {"receipts", r.receipts},
                                   {"tallied", r.tallied}};
  // Every count against the accepted votes: a difference is published, never hidden.
  nlohmann::json differences = nlohmann::json::object();
  auto diff = [&](const char* name, std::uint64_t n) {
    if (n != r.accepted) {
      differences[name] = static_cast<std::int64_t>(n) - static_cast<std::int64_t>(r.accepted);
    }
  };
  diff("claims", r.claims);
  diff("ballots", r.ballots);
  diff("receipts", r.receipts);
  diff("tallied", r.tallied);
  if (!differences.empty()) reconciliation["differences"] = std::move(differences);
  return {{"law_id", c.law_id},
          {"opens_at", FormatTimestamp(c.opens_at)},
          {"closes_at", FormatTimestamp(c.closes_at)},
          {"sealed_at", FormatTimestamp(c.sealed_at)},
          {"tally", {{"oui", c.oui}, {"non", c.non}, {"total", c.oui + c.non}}},
          {"reconciliation", std::move(reconciliation)},
          {"receipts",
           {{"count", c.receipt_count},
            {"sha256", c.receipts_sha256},
            {"url", RecordReceiptsUrl(c.law_id)}}}};
}

Result<nlohmann::json> SignedRecord(const RecordContent& content, const RecordSigner& signer) {
  nlohmann::json record = UnsignedRecord(content);
  auto value = signer.SignHex(CanonicalJson(record));
  if (!value) return Fail(value.error());
  record["signature"] = {
      {"algorithm", "ed25519"}, {"public_key", signer.PublicKeyHex()}, {"value", *value}};
  return record;
}

namespace {

// The unsigned integer at `obj[key]`, or nullopt (with a problem noted) when absent or not one.
std::optional<std::uint64_t> Count(const nlohmann::json& obj, const char* where, const char* key,
                                   std::vector<std::string>& problems) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_integer() ||
      obj[key].get<std::int64_t>() < 0) {
    problems.push_back(fmt::format("{}.{} is missing or not a count", where, key));
    return std::nullopt;
  }
  return obj[key].get<std::uint64_t>();
}

std::string String(const nlohmann::json& obj, const char* where, const char* key,
                   std::vector<std::string>& problems) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) {
    problems.push_back(fmt::format("{}{} is missing or not a string", where, key));
    return {};
  }
  return obj[key].get<std::string>();
}

}  // namespace

std::vector<std::string> VerifyRecord(const nlohmann::json& record, std::string_view receipts_text,
                                      std::string_view expected_public_key) {
  std::vector<std::string> problems;
  if (!record.is_object()) return {"the record is not a JSON object"};

  // The signature first: nothing else in a record means anything unless its signer is known.
  const nlohmann::json sig = record.value("signature", nlohmann::json());
  const std::string algorithm = String(sig, "signature.", "algorithm", problems);
  const std::string public_key = String(sig, "signature.", "public_key", problems);
  const std::string value = String(sig, "signature.", "value", problems);
  if (!algorithm.empty() && algorithm != "ed25519") {
    problems.push_back(fmt::format("signature.algorithm is '{}', not ed25519", algorithm));
  }
  if (!expected_public_key.empty() && public_key != expected_public_key) {
    problems.push_back(fmt::format(
        "the record is signed by key {}, not by the election's published record key {}",
        public_key, expected_public_key));
  }
  nlohmann::json body = record;
  body.erase("signature");
  if (!public_key.empty() && !value.empty() &&
      !VerifyEd25519(public_key, CanonicalJson(body), value)) {
    problems.push_back("the signature does not match the record (the record was changed after "
                       "it was signed, or signed by another key)");
  }

  // The receipts list as served.
  const nlohmann::json receipts = record.value("receipts", nlohmann::json());
  const std::string sha = String(receipts, "receipts.", "sha256", problems);
  const auto count = Count(receipts, "receipts", "count", problems);
  const std::string actual_sha = Sha256Hex(receipts_text);
  if (!sha.empty() && sha != actual_sha) {
    problems.push_back(fmt::format(
        "the receipts list's SHA-256 is {}, the record says {} (a receipt was added, dropped or "
        "changed)",
        actual_sha, sha));
  }
  std::uint64_t lines = 0;
  bool sorted = true, unique = true;
  std::string_view previous;
  for (std::size_t pos = 0; pos < receipts_text.size();) {
    const std::size_t end = receipts_text.find('\n', pos);
    if (end == std::string_view::npos) {
      problems.push_back("the receipts list does not end with a newline");
      break;
    }
    const std::string_view line = receipts_text.substr(pos, end - pos);
    if (lines > 0 && line < previous) sorted = false;
    if (lines > 0 && line == previous) unique = false;
    previous = line;
    ++lines;
    pos = end + 1;
  }
  if (!sorted) problems.push_back("the receipts list is not sorted");
  if (!unique) problems.push_back("the receipts list holds a receipt twice");
  if (count && *count != lines) {
    problems.push_back(
        fmt::format("the receipts list has {} receipts, the record says {}", lines, *count));
  }

  // The tally and the reconciliation.
  const nlohmann::json tally = record.value("tally", nlohmann::json());
  const auto oui = Count(tally, "tally", "oui", problems);
  const auto non = Count(tally, "tally", "non", problems);
  const auto total = Count(tally, "tally", "total", problems);
  if (oui && non && total && *oui + *non != *total) {
    problems.push_back(
        fmt::format("tally.total is {}, but oui + non is {}", *total, *oui + *non));
  }
  const nlohmann::json rec = record.value("reconciliation", nlohmann::json());
  const auto accepted = Count(rec, "reconciliation", "accepted", problems);
  for (const char* name : {"claims", "ballots", "receipts", "tallied"}) {
    const auto n = Count(rec, "reconciliation", name, problems);
    if (n && accepted && *n != *accepted) {
      problems.push_back(fmt::format("reconciliation: {} {} but {} accepted votes (difference {})",
                                     *n, name, *accepted,
                                     static_cast<std::int64_t>(*n) -
                                         static_cast<std::int64_t>(*accepted)));
    }
  }
  if (const auto tallied = Count(rec, "reconciliation", "tallied", problems);
      tallied && total && *tallied != *total) {
    problems.push_back(fmt::format("reconciliation.tallied is {}, tally.total is {}", *tallied,
                                   *total));
  }
  if (const auto r = Count(rec, "reconciliation", "receipts", problems);
      r && count && *r != *count) {
    problems.push_back(fmt::format("reconciliation.receipts is {}, receipts.count is {}", *r,
                                   *count));
  }
  for (const char* key : {"law_id", "opens_at", "closes_at", "sealed_at"}) {
    (void)String(record, "", key, problems);
  }
  // A missing member is reported once even when several checks noticed it; the order stays (the
  // signature's problems first).
  std::vector<std::string> once;
  for (auto& p : problems) {
    if (std::find(once.begin(), once.end(), p) == once.end()) once.push_back(std::move(p));
  }
  return once;
}

}  // namespace scrutin::core

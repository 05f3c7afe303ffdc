#include "http/tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>

namespace scrutin::http {
namespace {

namespace ssl = boost::asio::ssl;
using core::ErrorCode;
using core::Fail;

// Mozilla's "intermediate" TLS 1.2 suites (https://wiki.mozilla.org/Security/Server_Side_TLS):
// ECDHE or DHE key exchange (forward secrecy) with an AEAD cipher only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:prime256v1:secp384r1";

// The first error OpenSSL queued (and clears the queue), as one readable phrase.
std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(e);
}

core::Status Readable(const std::string& what, const std::string& file) {
  if (file.empty()) return Fail(ErrorCode::kRefused, what + " file not given");
  if (::access(file.c_str(), R_OK) != 0) {
    return Fail(ErrorCode::kRefused,
                "cannot read the " + what + " file " + file + ": " + std::strerror(errno));
  }
  return {};
}

std::string FormatAsn1Time(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct Built {
  std::shared_ptr<ssl::context> context;
  CertificateInfo info;
};

core::Result<Built> Build(const std::string& cert_file, const std::string& key_file) {
  if (auto st = Readable("certificate", cert_file); !st) return Fail(st.code(), st.error());
  if (auto st = Readable("private key", key_file); !st) return Fail(st.code(), st.error());
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kRefused, std::string("cannot create a TLS context: ") + e.what());
  }
  SSL_CTX* c = ctx->native_handle();
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1 || SSL_CTX_set1_groups_list(c, kGroups) != 1) {
    return Fail(ErrorCode::kRefused, "cannot configure TLS: " + OpenSslError());
  }
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_dh_auto(c, 1);
  // Idle connections hold no record buffers (tens of kilobytes each otherwise).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  // Resumption: tickets (OpenSSL's default) and a server-side cache for clients without them.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  static constexpr unsigned char kSessionContext[] = "scrutin";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  // An encrypted key would make OpenSSL prompt on the terminal: refuse it instead.
  SSL_CTX_set_default_passwd_cb(c, [](char*, int, int, void*) { return 0; });

  if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1) {
    return Fail(ErrorCode::kRefused, "the certificate file " + cert_file +
                                         " holds no usable PEM certificate chain (" +
                                         OpenSslError() + ")");
  }
  X509* leaf = SSL_CTX_get0_certificate(c);
  if (leaf == nullptr) {
    return Fail(ErrorCode::kRefused, "the certificate file " + cert_file + " holds no certificate");
  }
  // The key on its own first, so that "not a key" and "not this certificate's key" read apart.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(nullptr, EVP_PKEY_free);
  if (FILE* f = std::fopen(key_file.c_str(), "r"); f != nullptr) {
    key.reset(PEM_read_PrivateKey(
        f, nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
    std::fclose(f);
  }
  if (!key) {
    return Fail(ErrorCode::kRefused, "the private key file " + key_file +
                                         " holds no usable unencrypted PEM private key (" +
                                         OpenSslError() + ")");
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return Fail(ErrorCode::kRefused,
                "the private key " + key_file + " does not belong to the certificate " + cert_file);
  }
  if (SSL_CTX_use_PrivateKey(c, key.get()) != 1) {
    return Fail(ErrorCode::kRefused,
                "cannot use the private key " + key_file + " (" + OpenSslError() + ")");
  }
  Built built;
  built.context = std::move(ctx);
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof subject);
  built.info.subject = subject;
  built.info.not_after = FormatAsn1Time(X509_get0_notAfter(leaf));
  int days = 0, seconds = 0;
  if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(leaf)) == 1) {
    built.info.seconds_left = static_cast<long long>(days) * 86400 + seconds;
  }
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
    return Fail(ErrorCode::kRefused, "the certificate " + cert_file + " (" + subject +
                                         ") expired at " + built.info.not_after);
  }
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
    return Fail(ErrorCode::kRefused, "the certificate " + cert_file + " (" + subject +
                                         ") is not valid before " +
                                         FormatAsn1Time(X509_get0_notBefore(leaf)));
  }
  return built;
}

}  // namespace

core::Result<std::unique_ptr<TlsContext>> TlsContext::Load(std::string cert_file,
                                                           std::string key_file) {
  std::unique_ptr<TlsContext> tls(new TlsContext(std::move(cert_file), std::move(key_file)));
  if (auto st = tls->Reload(); !st) return Fail(st.code(), st.error());
  return tls;
}

core::Status TlsContext::Reload() {
  auto built = Build(cert_file_, key_file_);
  if (!built) return Fail(built.code(), built.error());
  core::MutexLock lock(mu_);
  context_ = std::move(built->context);
  info_ = std::move(built->info);
  return {};
}

std::shared_ptr<boost::asio::ssl::context> TlsContext::Current() const {
  core::MutexLock lock(mu_);
  return context_;
}

CertificateInfo TlsContext::certificate() const {
  core::MutexLock lock(mu_);
  return info_;
}

}  // namespace scrutin::http

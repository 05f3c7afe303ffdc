// TlsContext: the server side of HTTPS on the public port (`serve` and `api` with --tls-cert and
// --tls-key; docs/operations.md "HTTPS").
//
// What it enforces: TLS 1.2 and 1.3 only; for TLS 1.2 the ECDHE/DHE AEAD cipher suites of
// Mozilla's "intermediate" profile (forward secrecy, AES-GCM or ChaCha20-Poly1305), TLS 1.3's
// defaults; no compression, no renegotiation; session resumption through tickets and a server
// session cache. A certificate chain (PEM, leaf first) and its private key are checked when
// loaded: readable, parseable, matching each other, and the leaf valid now. A reload (SIGHUP)
// builds a new context from the files and swaps it in only when every check passed: connections
// already open keep the context they started with, new ones get the new one, none is dropped,
// and a bad file leaves the previous pair in force.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "core/mutex.hpp"
#include "core/result.hpp"

namespace scrutin::http {

// What the loaded certificate says, for the operator's log.
struct CertificateInfo {
  std::string subject;
  std::string not_after;  // RFC 3339
  long long seconds_left = 0;
};

class TlsContext {
 public:
  // Loads and checks the pair. Error (kRefused), naming the file and what is wrong with it: a
  // file missing or unreadable, no certificate in it, a key that is not a private key or not the
  // certificate's, a certificate expired or not valid yet.
  static core::Result<std::unique_ptr<TlsContext>> Load(std::string cert_file,
                                                        std::string key_file);

  // Re-reads both files; on success new connections use them. Error as Load: the previous pair
  // stays in force. Thread-safe.
  core::Status Reload() EXCLUDES(mu_);

  // The context new connections are built with. Thread-safe; the pointer keeps it alive for as
  // long as a connection uses it.
  std::shared_ptr<boost::asio::ssl::context> Current() const EXCLUDES(mu_);

  CertificateInfo certificate() const EXCLUDES(mu_);

 private:
  TlsContext(std::string cert_file, std::string key_file)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

  const std::string cert_file_;
  const std::string key_file_;
  mutable core::Mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_ GUARDED_BY(mu_);
  CertificateInfo info_ GUARDED_BY(mu_);
};

// The value of the Strict-Transport-Security header HTTPS responses carry (two years, as
// Mozilla's guidelines advise; subdomains are the operator's to decide, so not included).
inline constexpr std::string_view kHstsValue = "max-age=63072000";

}  // namespace scrutin::http

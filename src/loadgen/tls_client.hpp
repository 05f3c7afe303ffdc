// The client side of HTTPS for the load generator and its verification: one OpenSSL context per
// run that verifies every server certificate (against a CA file, or the system's store when none
// is given) and, per connection, the server's name or IP address, as a voter's browser would.
// TLS 1.2 and 1.3 only, matching what `scrutin serve --tls-cert` accepts.
// Private to src/loadgen: other modules use its public headers.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace scrutin::loadgen {

// `cacert`: a PEM file of trusted CAs; empty: the system's default store. Error naming the file
// when it cannot be read or holds no certificate.
core::Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const std::string& cacert);

// Before a handshake: sends `host` as SNI (unless it is an IP address) and makes the handshake
// fail unless the certificate names `host` (a DNS name, or an IP address in its SANs).
template <typename Stream>
core::Status PrepareClientStream(boost::asio::ssl::stream<Stream>& stream, const std::string& host);

// Why a handshake failed, for a person: OpenSSL's verification result when the certificate was
// refused ("certificate verify failed: self-signed certificate"), else the error's message.
std::string HandshakeErrorText(const boost::system::error_code& ec, SSL* ssl);

}  // namespace scrutin::loadgen

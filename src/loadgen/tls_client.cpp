#include "loadgen/tls_client.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace scrutin::loadgen {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

core::Result<std::shared_ptr<ssl::context>> MakeClientTlsContext(const std::string& cacert) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (cacert.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      return core::Fail(fmt::format("cannot load the system's CA store: {}", ec.message()));
    }
  } else {
    ctx->load_verify_file(cacert, ec);
    if (ec) {
      return core::Fail(fmt::format("--cacert {}: cannot load a PEM certificate from it: {}",
                                    cacert, ec.message()));
    }
  }
  return ctx;
}

template <typename Stream>
core::Status PrepareClientStream(ssl::stream<Stream>& stream, const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  const bool is_ip = !ec;
  // SNI carries host names only (RFC 6066 3).
  if (!is_ip && SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1) {
    return core::Fail(fmt::format("cannot set the TLS server name '{}'", host));
  }
  // Asio's check refuses a wrong name without saying so; record why, so that the error reads
  // "hostname mismatch" rather than "unspecified certificate verification error".
  stream.set_verify_callback(
      [check = ssl::host_name_verification(host), is_ip](bool preverified,
                                                         ssl::verify_context& ctx) mutable {
        if (!preverified) return false;
        X509_STORE_CTX* store = ctx.native_handle();
        if (X509_STORE_CTX_get_error_depth(store) > 0 || check(preverified, ctx)) return true;
        X509_STORE_CTX_set_error(
            store, is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
        return false;
      },
      ec);
  if (ec) return core::Fail(fmt::format("cannot verify the name '{}': {}", host, ec.message()));
  return {};
}

template core::Status PrepareClientStream(ssl::stream<asio::ip::tcp::socket&>&, const std::string&);
template core::Status PrepareClientStream(ssl::stream<boost::beast::tcp_stream>&,
                                          const std::string&);

std::string HandshakeErrorText(const boost::system::error_code& ec, SSL* ssl) {
  if (ssl != nullptr) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(verify));
    }
  }
  return ec.message();
}

}  // namespace scrutin::loadgen

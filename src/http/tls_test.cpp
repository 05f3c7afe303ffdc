// HTTPS on the public port (tls.hpp and the server's TLS path) as a client sees it: a verified
// handshake and HSTS, old protocols refused, plain HTTP never served, certificate checks at load,
// a reload that drops no connection, resumption, and the front-door limits applied to
// handshakes (a slow one times out, a flood spends only the flooder's allowance).
#include "http/tls.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http/parser.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "http/server.hpp"
#include "http/test_client.hpp"

namespace scrutin::http {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::Header;
using testing::TestClient;
using testing::TestResponse;

// Writes a self-signed P-256 certificate for 127.0.0.1 / localhost (valid from now + `from` to now
// + `until`) and its key as PEM files.
void WriteSelfSigned(const fs::path& cert, const fs::path& key, const std::string& cn,
                     long from = -3600, long until = 86400) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  ASSERT_NE(pkey, nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::rand() % 100000 + 1));
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), until);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ASSERT_NE(ext, nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  ASSERT_GT(X509_sign(x, pkey, EVP_sha256()), 0);
  FILE* f = std::fopen(cert.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
}

// A blocking TLS client over a POSIX socket with timeouts, verifying the server against `ca`.
class TlsClient {
 public:
  struct Options {
    std::string ca;       // PEM file of the trusted certificate
    int max_version = 0;  // e.g. TLS1_1_VERSION; 0: the library's
    SSL_SESSION* resume = nullptr;
    const char* source = nullptr;  // local IPv4 address to connect from
  };

  TlsClient(unsigned short port, const Options& o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!o.ca.empty()) SSL_CTX_load_verify_locations(ctx_, o.ca.c_str(), nullptr);
    if (o.max_version != 0) {
      SSL_CTX_set_min_proto_version(ctx_, 0);
      SSL_CTX_set_max_proto_version(ctx_, o.max_version);
      SSL_CTX_set_security_level(ctx_, 0);  // so that the client is willing to offer TLS 1.1
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (o.source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, o.source, &local.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    }
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "127.0.0.1");
    if (o.resume != nullptr) SSL_set_session(ssl_, o.resume);
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }

  // True when the handshake completed and the server's certificate verified.
  bool Handshake() {
    ERR_clear_error();
    return connected_ && SSL_connect(ssl_) == 1 && SSL_get_verify_result(ssl_) == X509_V_OK;
  }

  std::optional<TestResponse> Get(std::string_view target) {
    std::string req = "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n\r\n";
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return std::nullopt;
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.eager(true);
    char buf[8192];
    while (!parser.is_done()) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      boost::beast::error_code ec;
      parser.put(boost::asio::buffer(buf, static_cast<std::size_t>(n)), ec);
      if (ec && ec != boost::beast::http::error::need_more) return std::nullopt;
    }
    return parser.release();
  }

  std::string PeerSubject() {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    if (peer == nullptr) return {};
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
    X509_free(peer);
    return buf;
  }

  SSL* ssl() { return ssl_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
};

class OkHandler : public Handler {
 public:
  void Handle(Request& req, Responder responder) override {
    Response r;
    r.content_type = "text/plain";
    r.body = "ok " + std::string(req.target().data(), req.target().size());
    responder.Send(std::move(r));
  }
};

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // OpenSSL writes to the client's socket with write(): a server that closed it must fail the
    // call, not kill the test with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    dir_ = fs::temp_directory_path() /
           ("scrutin-tls-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    fs::create_directories(dir_);
    WriteSelfSigned(cert(), key(), "first.test");
  }
  void TearDown() override {
    if (server_) server_->Stop(1s);
    fs::remove_all(dir_);
  }

  fs::path cert() const { return dir_ / "cert.pem"; }
  fs::path key() const { return dir_ / "key.pem"; }

  void Start(ServerOptions options = {}) {
    auto tls = TlsContext::Load(cert(), key());
    ASSERT_TRUE(tls.ok()) << tls.error();
    tls_ = std::move(*tls);
    options.threads = 2;
    options.tls = tls_.get();
    if (clients_) options.clients = clients_.get();
    server_ = std::make_unique<Server>(std::move(options), handler_);
    auto bound = server_->Start({boost::asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(bound.ok()) << bound.error();
    port_ = bound->port();
  }

  TlsClient::Options Trusting(const fs::path& ca) const { return {ca.string()}; }

  fs::path dir_;
  OkHandler handler_;
  std::unique_ptr<TlsContext> tls_;
  std::unique_ptr<ClientTable> clients_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
};

TEST_F(TlsServerTest, AnswersOverVerifiedTlsWithHsts) {
  Start();
  TlsClient c(port_, Trusting(cert()));
  ASSERT_TRUE(c.Handshake());
  EXPECT_GE(SSL_version(c.ssl()), TLS1_2_VERSION);
  for (int i = 0; i < 3; ++i) {  // keep-alive over one TLS session
    auto r = c.Get("/x" + std::to_string(i));
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_EQ(r->body(), "ok /x" + std::to_string(i));
    EXPECT_EQ(Header(*r, "Strict-Transport-Security"), std::string(kHstsValue));
  }
  EXPECT_EQ(tls_->certificate().subject, "/CN=first.test");
  EXPECT_GT(tls_->certificate().seconds_left, 80000);
}

TEST_F(TlsServerTest, RefusesTls11AndOlder) {
  Start();
  TlsClient old(port_, {cert().string(), TLS1_1_VERSION});
  EXPECT_FALSE(old.Handshake());
  // The server counts the failure once its side of the handshake has ended (maybe after ours).
  for (int i = 0; i < 200 && server_->tls_handshakes_failed() == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GE(server_->tls_handshakes_failed(), 1u);
  TlsClient modern(port_, Trusting(cert()));
  EXPECT_TRUE(modern.Handshake());
}

TEST_F(TlsServerTest, PlainHttpIsNeverServed) {
  Start();
  TestClient plain(port_);
  auto r = plain.Request("GET", "/api/v1/health");
  if (r) {  // a plain-text refusal, never the page
    EXPECT_EQ(r->result_int(), 400u);
    EXPECT_NE(r->body().find("https_required"), std::string::npos) << r->body();
  }
  EXPECT_TRUE(plain.WaitClosed(3s));
}

TEST_F(TlsServerTest, LoadNamesWhatIsWrongWithThePair) {
  auto missing = TlsContext::Load((dir_ / "nope.pem").string(), key().string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("nope.pem"), std::string::npos) << missing.error();

  std::ofstream(dir_ / "garbage.pem") << "not a certificate\n";
  auto garbage = TlsContext::Load((dir_ / "garbage.pem").string(), key().string());
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().find("certificate"), std::string::npos) << garbage.error();

  WriteSelfSigned(dir_ / "other.pem", dir_ / "other-key.pem", "other.test");
  auto mismatched = TlsContext::Load(cert().string(), (dir_ / "other-key.pem").string());
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.error().find("does not belong"), std::string::npos) << mismatched.error();

  WriteSelfSigned(dir_ / "old.pem", dir_ / "old-key.pem", "old.test", -7200, -3600);
  auto expired = TlsContext::Load((dir_ / "old.pem").string(), (dir_ / "old-key.pem").string());
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.error().find("expired"), std::string::npos) << expired.error();

  WriteSelfSigned(dir_ / "future.pem", dir_ / "future-key.pem", "future.test", 3600, 7200);
  auto early = TlsContext::Load((dir_ / "future.pem").string(), (dir_ / "future-key.pem").string());
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().find("not valid before"), std::string::npos) << early.error();
}

TEST_F(TlsServerTest, ReloadSwapsThePairWithoutDroppingConnections) {
  Start();
  const fs::path first_ca = dir_ / "first-ca.pem";
  fs::copy_file(cert(), first_ca);
  TlsClient before(port_, Trusting(first_ca));
  ASSERT_TRUE(before.Handshake());
  ASSERT_TRUE(before.Get("/a"));

  // A broken file: the reload fails and the first pair stays in force.
  std::ofstream(cert(), std::ios::trunc) << "broken\n";
  EXPECT_FALSE(tls_->Reload().ok());
  TlsClient still(port_, Trusting(first_ca));
  EXPECT_TRUE(still.Handshake());

  WriteSelfSigned(cert(), key(), "second.test");
  ASSERT_TRUE(tls_->Reload().ok());
  TlsClient after(port_, Trusting(cert()));
  ASSERT_TRUE(after.Handshake());
  EXPECT_EQ(after.PeerSubject(), "/CN=second.test");
  ASSERT_TRUE(after.Get("/b"));
  // The connection opened before the reload is still served.
  auto r = before.Get("/c");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "ok /c");
}

TEST_F(TlsServerTest, ResumesSessions) {
  Start();
  TlsClient first(port_, Trusting(cert()));
  ASSERT_TRUE(first.Handshake());
  ASSERT_TRUE(first.Get("/a"));  // TLS 1.3 tickets arrive after the handshake
  SSL_SESSION* session = SSL_get1_session(first.ssl());
  ASSERT_NE(session, nullptr);
  TlsClient::Options o = Trusting(cert());
  o.resume = session;
  TlsClient second(port_, o);
  ASSERT_TRUE(second.Handshake());
  EXPECT_EQ(SSL_session_reused(second.ssl()), 1);
  EXPECT_TRUE(second.Get("/b"));
  SSL_SESSION_free(session);
}

TEST_F(TlsServerTest, ASlowHandshakeIsClosedAfterTheRequestTimeout) {
  ServerOptions o;
  o.request_timeout = 300ms;
  o.sweep_period = 50ms;
  Start(o);
  TestClient idle(port_);  // connects and never says hello
  EXPECT_TRUE(idle.WaitClosed(3s));
  TestClient half(port_);
  ASSERT_TRUE(half.Send(std::string("\x16\x03\x01\x02\x00\x01", 6)));  // a ClientHello's start
  EXPECT_TRUE(half.WaitClosed(3s));
}

TEST_F(TlsServerTest, AHandshakeFloodSpendsOnlyTheFloodersAllowance) {
  ClientLimits limits;
  limits.read_rate = 1;
  limits.read_burst = 5;
  clients_ = std::make_unique<ClientTable>(limits);
  Start();
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    TlsClient flood(port_, Trusting(cert()));
    if (!flood.Handshake()) ++refused;
  }
  EXPECT_GE(refused, 10);
  TlsClient::Options other = Trusting(cert());
  other.source = "127.0.0.2";
  TlsClient voter(port_, other);
  ASSERT_TRUE(voter.Handshake());
  auto r = voter.Get("/api/v1/laws");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
}

}  // namespace
}  // namespace scrutin::http

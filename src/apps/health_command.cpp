// `scrutin health [--url URL] [--token-file FILE] [--timeout-ms N]`: one HTTP GET, exit 0 on a
// 200 answer and 1 otherwise, with one line on stderr saying why (the status, or the connection
// error; never the token). The container image's HEALTHCHECK and a Kubernetes exec probe run it,
// so the image needs neither curl nor a shell (deploy/README.md "The image").
//
// Plain HTTP only, on purpose: it probes the process's own admin port on the loopback interface
// (`--admin-listen`, which is plain HTTP and which `--require-tls` keeps on loopback), so the
// request never leaves the host and there is nothing for TLS to protect. For the same reason the
// host must be an IP address (or `localhost`): no DNS lookup that could outlast the timeout.
// Bounded: the whole exchange (connect, write, read) within --timeout-ms, and only the status
// line and at most 8 KiB of headers are read: the verdict is the status, the body is never read
// (so no answer, however large, is held in memory).
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "apps/administration.hpp"
#include "apps/commands.hpp"

namespace scrutin::apps {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;

struct HealthOptions {
  std::string url = "http://127.0.0.1:9100/readyz";
  std::string token_file;
  int timeout_ms = 2000;
};

struct ProbeTarget {
  tcp::endpoint endpoint;
  std::string host;  // the Host header
  std::string path;
};

// http://HOST[:PORT][/PATH], HOST an IPv4 address, [IPv6] or localhost; PORT defaults to 80.
ProbeTarget ParseProbeUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!std::string_view(url).starts_with(kScheme)) {
    throw CommandError(
        "--url must be http://HOST:PORT/PATH (plain HTTP to the loopback admin "
        "port; https is not needed there)");
  }
  std::string rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  ProbeTarget target;
  target.path = slash == std::string::npos ? "/" : rest.substr(slash);
  target.host = authority;
  if (authority.find('@') != std::string::npos) {
    throw CommandError("--url must not carry credentials: give the admin token with --token-file");
  }
  std::string host = authority;
  std::string port = "80";
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) throw CommandError("--url has an unclosed [IPv6] address");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw CommandError("--url: expected :PORT after ]");
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    throw CommandError(
        "--url: the host must be an IP address or localhost (no DNS lookup in a "
        "probe), not '" +
        host + "'");
  }
  unsigned long number = 0;
  try {
    std::size_t used = 0;
    number = std::stoul(port, &used);
    if (used != port.size()) number = 0;
  } catch (const std::exception&) {
    number = 0;
  }
  if (number == 0 || number > 65535) throw CommandError("--url: invalid port '" + port + "'");
  target.endpoint = tcp::endpoint(address, static_cast<unsigned short>(number));
  return target;
}

void RunHealth(const HealthOptions& o) {
  const ProbeTarget target = ParseProbeUrl(o.url);
  const std::string token = LoadAdminToken(o.token_file);
  const std::string what = "GET " + o.url;

  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target.path, 11};
  request.set(bhttp::field::host, target.host);
  request.set(bhttp::field::user_agent, "scrutin-health");
  request.set(bhttp::field::connection, "close");
  if (!token.empty()) request.set(bhttp::field::authorization, "Bearer " + token);
  bhttp::response_parser<bhttp::empty_body> parser;
  parser.header_limit(kMaxHeaderBytes);

  // One deadline for the whole exchange: tcp_stream applies its expiry to every asynchronous
  // operation started before it passes (which is why these are asynchronous).
  std::optional<boost::system::error_code> failed;
  std::string step = "cannot connect";
  stream.expires_after(std::chrono::milliseconds(o.timeout_ms));
  stream.async_connect(target.endpoint, [&](boost::system::error_code ec) {
    if (ec) return void(failed = ec);
    step = "cannot send the request";
    bhttp::async_write(stream, request, [&](boost::system::error_code ec, std::size_t) {
      if (ec) return void(failed = ec);
      step = "no valid answer";
      bhttp::async_read_header(stream, buffer, parser, [&](boost::system::error_code ec, std::size_t) {
        if (ec) failed = ec;
      });
    });
  });
  ioc.run();
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  if (failed) {
    const std::string why = *failed == beast::error::timeout
                                ? "timed out after " + std::to_string(o.timeout_ms) + " ms"
                                : failed->message();
    throw CommandError(what + ": " + step + ": " + why);
  }
  if (!parser.is_header_done()) {
    throw CommandError(what + ": " + step + ": the connection closed before a status line");
  }
  const auto& response = parser.get();
  if (response.result_int() != 200) {
    throw CommandError(what + ": answered " + std::to_string(response.result_int()) + " " +
                       std::string(response.reason()));
  }
}

}  // namespace

void AddHealthCommand(CLI::App& app) {
  auto o = std::make_shared<HealthOptions>();
  auto* cmd = app.add_subcommand(
      "health",
      "Probe a scrutin process over HTTP: exit 0 when GET --url answers 200, 1 otherwise (one "
      "line on stderr). For the image's HEALTHCHECK and Kubernetes exec probes");
  cmd->add_option("--url", o->url,
                  "What to GET: http://IP:PORT/PATH, plain HTTP (the loopback admin port: "
                  "/readyz or /livez need no token)")
      ->envname("SCRUTIN_HEALTH_URL")
      ->capture_default_str();
  cmd->add_option("--token-file", o->token_file,
                  "The admin token file, for a path that needs it (/health, /metrics); the same "
                  "checks as --admin-token-file")
      ->envname("SCRUTIN_HEALTH_TOKEN_FILE");
  cmd->add_option("--timeout-ms", o->timeout_ms,
                  "Bound on the whole exchange (connect, request, answer), in ms")
      ->envname("SCRUTIN_HEALTH_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd->callback([o] { RunHealth(*o); });
}

}  // namespace scrutin::apps

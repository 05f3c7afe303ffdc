// `scrutin verify-record`: what an auditor runs against a published record (docs/ballot-secrecy.md
// "The record at the close"), from the server or from saved files:
//
//   scrutin verify-record --url https://vote.example [--law L2025-001] [--public-key HEX]
//   scrutin verify-record --record record.json --receipts receipts.txt [--public-key HEX]
//
// It checks the Ed25519 signature over the canonical JSON (by the election's published record key
// when --public-key is given), the receipts list's SHA-256, count, order and uniqueness, the
// tally's total, and that every reconciliation count equals the accepted votes; from a server it
// also checks that the published results equal the record's tally. It prints one verdict per law
// and every problem found, and exits 1 when any check fails (2 when nothing could be checked).
//
// The HTTP client is Boost.Beast's synchronous one, written out here because the project's other
// client (loadgen's engine) is built for throughput, not for one-off reads of a large body.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "apps/commands.hpp"
#include "core/record.hpp"
#include "core/vote.hpp"

namespace scrutin::apps {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// The largest body read: a receipts list of 8 million voters is about 160 MB.
constexpr std::uint64_t kMaxBody = 1ull << 30;

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string base_path;  // without a trailing '/'
};

Url ParseUrl(const std::string& text) {
  Url u;
  std::string rest;
  if (text.starts_with("https://")) {
    u.tls = true;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else {
    throw CommandError("--url must start with http:// or https://: " + text);
  }
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  const auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty()) throw CommandError("--url has no host: " + text);
  return u;
}

struct Answer {
  unsigned status = 0;
  std::string body;
};

class Client {
 public:
  Client(Url url, const std::string& cacert) : url_(std::move(url)) {
    if (!url_.tls) return;
    tls_.emplace(asio::ssl::context::tls_client);
    tls_->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                      asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    tls_->set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    if (cacert.empty()) {
      tls_->set_default_verify_paths(ec);
    } else {
      tls_->load_verify_file(cacert, ec);
    }
    if (ec) throw CommandError(fmt::format("cannot load the trusted CAs: {}", ec.message()));
  }

  // GET base_path + path. Throws CommandError when the server cannot be reached.
  Answer Get(const std::string& path) {
    asio::io_context io;
    tcp::resolver resolver(io);
    beast::error_code ec;
    auto endpoints = resolver.resolve(url_.host, url_.port, ec);
    if (ec) throw CommandError(fmt::format("cannot resolve {}: {}", url_.host, ec.message()));
    bhttp::request<bhttp::empty_body> req(bhttp::verb::get, url_.base_path + path, 11);
    req.set(bhttp::field::host, url_.host);
    req.set(bhttp::field::user_agent, "scrutin-verify-record");
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxBody);
    beast::flat_buffer buffer;
    auto fail = [&](const char* what) {
      return CommandError(fmt::format("{} {}:{}{}: {}", what, url_.host, url_.port, path,
                                      ec.message()));
    };
    if (!tls_) {
      tcp::socket socket(io);
      asio::connect(socket, endpoints, ec);
      if (ec) throw fail("cannot connect to");
      bhttp::write(socket, req, ec);
      if (!ec) bhttp::read(socket, buffer, parser, ec);
      if (ec) throw fail("cannot read");
    } else {
      asio::ssl::stream<tcp::socket> stream(io, *tls_);
      // The server's certificate must name the host, as a browser requires.
      SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str());
      stream.set_verify_callback(asio::ssl::rfc2818_verification(url_.host));
      asio::connect(stream.next_layer(), endpoints, ec);
      if (ec) throw fail("cannot connect to");
      stream.handshake(asio::ssl::stream_base::client, ec);
      if (ec) throw fail("TLS handshake failed with");
      bhttp::write(stream, req, ec);
      if (!ec) bhttp::read(stream, buffer, parser, ec);
      if (ec) throw fail("cannot read");
    }
    auto res = parser.release();
    return Answer{res.result_int(), std::move(res.body())};
  }

 private:
  Url url_;
  std::optional<asio::ssl::context> tls_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandError("cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Prints the verdict on one record; true when it holds.
bool Report(const std::string& law, const nlohmann::json& record, const std::string& receipts,
            const std::string& public_key, std::vector<std::string> problems) {
  auto more = core::VerifyRecord(record, receipts, public_key);
  problems.insert(problems.end(), more.begin(), more.end());
  if (problems.empty()) {
    const auto& t = record["tally"];
    std::printf("%s: OK: %llu oui, %llu non, %llu receipts (sha256 %s), signed by %s%s\n",
                law.c_str(), static_cast<unsigned long long>(t.value("oui", 0ull)),
                static_cast<unsigned long long>(t.value("non", 0ull)),
                static_cast<unsigned long long>(record["receipts"].value("count", 0ull)),
                record["receipts"].value("sha256", "").c_str(),
                record["signature"].value("public_key", "").c_str(),
                public_key.empty() ? " (not compared with a published key: give --public-key)"
                                   : " (the published record key)");
    return true;
  }
  std::printf("%s: FAILED (%zu problem%s)\n", law.c_str(), problems.size(),
              problems.size() == 1 ? "" : "s");
  for (const auto& p : problems) std::printf("  - %s\n", p.c_str());
  return false;
}

nlohmann::json ParseJson(const std::string& text, const std::string& what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw CommandError(what + " is not JSON");
  return j;
}

struct Options {
  std::string url;
  std::vector<std::string> laws;
  std::string cacert;
  std::string record_file;
  std::string receipts_file;
  std::string public_key;
};

int VerifyFromServer(const Options& opt) {
  Client client(ParseUrl(opt.url), opt.cacert);
  std::vector<std::string> laws = opt.laws;
  if (laws.empty()) {
    // Every law of the ballot that has closed.
    Answer listed = client.Get("/api/v1/laws");
    if (listed.status != 200) {
      throw CommandError(fmt::format("GET /api/v1/laws answered {}", listed.status));
    }
    const auto now = core::Clock::now();
    for (const auto& law : ParseJson(listed.body, "the ballot (/api/v1/laws)")) {
      const std::string id = law.value("law_id", "");
      auto closes = core::ParseTimestamp(law.value("closes_at", ""));
      if (closes && *closes <= now) {
        laws.push_back(id);
      } else {
        std::printf("%s: not closed yet (closes at %s): no record to check\n", id.c_str(),
                    law.value("closes_at", "?").c_str());
      }
    }
    if (laws.empty()) {
      std::printf("no law has closed: nothing to verify\n");
      return 2;
    }
  }
  int failed = 0, checked = 0;
  for (const auto& law : laws) {
    Answer rec = client.Get("/api/v1/record/" + law);
    if (rec.status != 200) {
      std::printf("%s: FAILED: GET /api/v1/record/%s answered %u: %s\n", law.c_str(), law.c_str(),
                  rec.status, rec.body.substr(0, 300).c_str());
      ++failed;
      continue;
    }
    const nlohmann::json record = ParseJson(rec.body, "the record of " + law);
    std::string url = "/api/v1/record/" + law + "/receipts";
    if (record.contains("receipts") && record["receipts"].is_object() &&
        record["receipts"].value("url", "").starts_with("/")) {
      url = record["receipts"].value("url", url);
    }
    Answer receipts = client.Get(url);
    std::vector<std::string> problems;
    if (receipts.status != 200) {
      problems.push_back(fmt::format("GET {} answered {}", url, receipts.status));
    }
    if (record.value("law_id", "") != law) {
      problems.push_back(fmt::format("the record served for {} is the record of '{}'", law,
                                     record.value("law_id", "")));
    }
    // The published results must say what the record says once they are final.
    Answer results = client.Get("/api/v1/results/" + law);
    if (results.status == 200) {
      const auto r = ParseJson(results.body, "the results of " + law);
      const auto& t = record.value("tally", nlohmann::json::object());
      if (r.value("final", false) &&
          (r.value("oui", -1ll) != t.value("oui", -2ll) ||
           r.value("non", -1ll) != t.value("non", -2ll))) {
        problems.push_back(fmt::format(
            "the published results ({} oui, {} non) differ from the record's tally ({} oui, {} "
            "non)",
            r.value("oui", -1ll), r.value("non", -1ll), t.value("oui", -2ll),
            t.value("non", -2ll)));
      }
    }
    ++checked;
    if (!Report(law, record, receipts.body, opt.public_key, std::move(problems))) ++failed;
  }
  return failed > 0 ? 1 : checked > 0 ? 0 : 2;
}

int VerifyFromFiles(const Options& opt) {
  const nlohmann::json record = ParseJson(ReadFile(opt.record_file), "'" + opt.record_file + "'");
  const std::string law = record.is_object() ? record.value("law_id", "?") : "?";
  return Report(law, record, ReadFile(opt.receipts_file), opt.public_key, {}) ? 0 : 1;
}

}  // namespace

void AddVerifyRecordCommand(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "verify-record",
      "Check a closed law's published record as an auditor would: signature, receipts list, "
      "counts (exit 1 on any mismatch)");
  auto* url = cmd->add_option("--url", opt->url,
                              "The election's site, e.g. https://vote.example (checks every "
                              "closed law unless --law is given)");
  cmd->add_option("--law", opt->laws, "A law to check (repeatable); default: every closed law")
      ->needs(url);
  cmd->add_option("--cacert", opt->cacert,
                  "PEM file of the CAs to trust for https (default: the system's)")
      ->needs(url);
  auto* record = cmd->add_option("--record", opt->record_file,
                                 "A saved record (the JSON of /api/v1/record/{law})");
  auto* receipts = cmd->add_option("--receipts", opt->receipts_file,
                                   "The saved receipts list (/api/v1/record/{law}/receipts)");
  record->needs(receipts)->excludes(url);
  receipts->needs(record)->excludes(url);
  cmd->add_option("--public-key", opt->public_key,
                  "The election's record key as published before the poll (64 hex characters): "
                  "the record must be signed by it")
      ->check([](const std::string& v) {
        return v.size() == core::kRecordPublicKeyHexChars &&
                       v.find_first_not_of("0123456789abcdef") == std::string::npos
                   ? std::string()
                   : std::string("a public key is 64 lowercase hex characters");
      });
  cmd->callback([opt] {
    if (opt->url.empty() && opt->record_file.empty()) {
      throw CommandError("give --url, or --record and --receipts");
    }
    const int code = opt->url.empty() ? VerifyFromFiles(*opt) : VerifyFromServer(*opt);
    std::fflush(stdout);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace scrutin::apps

#include "http/request_reader.hpp"

#include <strings.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <cstring>
#include <string_view>

namespace scrutin::http {

namespace bhttp = boost::beast::http;
namespace beast = boost::beast;

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

void RequestReader::Start() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.header_limit));
  parser_->body_limit(limits_.body_limit);
  parser_->eager(false);  // stop after the header: framing, Expect and limits are checked first
  request_bytes_ = 0;
  extension_bytes_ = 0;
  header_seen_ = false;
  started_ = false;
  continue_sent_ = false;
}

RequestReader::Step RequestReader::Refuse(std::size_t consumed, unsigned status,
                                          std::string_view code, std::string message) {
  WipeBody();
  Step s;
  s.kind = Step::Kind::kRefused;
  s.consumed = consumed;
  s.status = status;
  s.code = code;
  s.message = std::move(message);
  return s;
}

std::optional<RequestReader::Step> RequestReader::CheckFraming(std::size_t consumed) {
  const auto& req = parser_->get();
  auto range = req.equal_range(bhttp::field::transfer_encoding);
  if (range.first == range.second) return std::nullopt;
  // Every coding of every Transfer-Encoding field, in order: only the list ["chunked"] is ours.
  int codings = 0;
  bool only_chunked = true;
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view value(it->value().data(), it->value().size());
    while (true) {
      auto comma = value.find(',');
      std::string_view coding = Trim(value.substr(0, comma));
      if (!coding.empty()) {
        ++codings;
        if (!IEquals(coding, "chunked")) only_chunked = false;
      }
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  if (codings != 1 || !only_chunked) {
    return Refuse(consumed, 400, "bad_request",
                  "Transfer-Encoding other than a single \"chunked\" is not accepted.");
  }
  if (req.version() < 11) {
    return Refuse(consumed, 400, "bad_request", "Transfer-Encoding is not allowed in HTTP/1.0.");
  }
  if (req.find(bhttp::field::content_length) != req.end()) {
    return Refuse(consumed, 400, "bad_request",
                  "A request may not carry both Transfer-Encoding and Content-Length.");
  }
  return std::nullopt;
}

RequestReader::Step RequestReader::Feed(std::string_view available, bool buffer_full) {
  std::size_t consumed = 0;
  const std::size_t max_request =
      limits_.header_limit + limits_.body_limit + limits_.framing_allowance;
  while (consumed < available.size()) {
    started_ = true;
    beast::error_code ec;
    std::string_view rest = available.substr(consumed);
    std::size_t used = parser_->put(boost::asio::buffer(rest.data(), rest.size()), ec);
    consumed += used;
    request_bytes_ += used;
    if (ec && ec != bhttp::error::need_more) {
      if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        return Refuse(consumed, 431, "header_too_large",
                      "The request header is too large (at most " +
                          std::to_string(limits_.header_limit) + " bytes).");
      }
      if (ec == bhttp::error::body_limit) {
        return Refuse(consumed, 413, "payload_too_large",
                      "The request body is too large (at most " +
                          std::to_string(limits_.body_limit) + " bytes).");
      }
      if (ec == bhttp::error::bad_chunk_extension && extension_bytes_ > 0) {
        return Refuse(consumed, 400, "bad_request",
                      "Chunk extensions are too long (at most " +
                          std::to_string(limits_.max_chunk_extensions) + " bytes a request).");
      }
      return Refuse(consumed, 400, "bad_request", "The request is not valid HTTP/1.1.");
    }
    if (request_bytes_ > max_request) {
      return Refuse(consumed, 400, "bad_request",
                    "The request is too long for its body (at most " +
                        std::to_string(max_request) + " bytes in all).");
    }
    if (!header_seen_ && parser_->is_header_done()) {
      header_seen_ = true;
      if (auto refused = CheckFraming(consumed)) return std::move(*refused);
      // Chunk extensions have no use here; their total length is bounded per request.
      parser_->on_chunk_header(on_chunk_header_);
      parser_->eager(true);  // from now on, parse the body as it comes
      auto expect = parser_->get()[bhttp::field::expect];
      if (!parser_->is_done() && consumed == available.size() && !continue_sent_ &&
          IEquals(std::string_view(expect.data(), expect.size()), "100-continue")) {
        continue_sent_ = true;
        Step s;
        s.kind = Step::Kind::kContinue;
        s.consumed = consumed;
        return s;
      }
    }
    if (parser_->is_done()) {
      Step s;
      s.kind = Step::Kind::kComplete;
      s.consumed = consumed;
      return s;
    }
    if (ec || used == 0) break;  // need more bytes
  }
  // What is left cannot be parsed without more bytes; if it already fills the buffer, more can
  // never arrive: the element (a header, a chunk line, a trailer) is larger than we accept.
  if (buffer_full && consumed == 0) {
    return Refuse(consumed, 431, "header_too_large",
                  header_seen_ ? "A chunk line or trailer of the request is too large."
                               : "The request header is too large (at most " +
                                     std::to_string(limits_.header_limit) + " bytes).");
  }
  Step s;
  s.kind = Step::Kind::kNeedMore;
  s.consumed = consumed;
  return s;
}

RequestReader::Request RequestReader::Release() {
  Request r = parser_->release();
  parser_.reset();
  return r;
}

void RequestReader::WipeBody() {
  if (!parser_) return;
  std::string& body = parser_->get().body();
  if (!body.empty()) explicit_bzero(body.data(), body.size());
}

}  // namespace scrutin::http

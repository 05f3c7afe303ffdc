// Fuzzes the HTTP server's request path on raw bytes: the PROXY protocol header a trusted proxy
// may send first (ParseProxyHeader), then http::RequestReader — the bounded request parser the
// server runs on every connection — fed through a connection-sized buffer in pieces whose sizes
// the input chooses, request after request, exactly as Connection::DoRead does.
// Checks: no crash (ASan/UBSan); every step consumes only what it was given; the buffer never
// holds more than its capacity, and a full buffer always leads to progress or a refusal (never a
// read of zero bytes, the chunk-extension spin of Beast 1.74); a refusal has a 4xx status; a
// completed request's body is within the body limit; the parse ends (bounded loop).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/client_address.hpp"
#include "http/request_reader.hpp"

namespace {

using scrutin::http::ParseProxyHeader;
using scrutin::http::ProxyHeader;
using scrutin::http::ReaderLimits;
using scrutin::http::RequestReader;
using Kind = RequestReader::Step::Kind;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte picks the read size (1..256 bytes a read), as a network would.
  const std::size_t piece = 1 + data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  ProxyHeader proxy = ParseProxyHeader(input.substr(0, ProxyHeader::kMaxBytes));
  Check(proxy.consumed <= std::min(input.size(), ProxyHeader::kMaxBytes));
  if (proxy.status == ProxyHeader::Status::kParsed) Check(proxy.consumed > 0);

  ReaderLimits limits;
  limits.header_limit = 1024;  // small limits reach the refusal paths with small inputs
  limits.body_limit = 512;
  limits.max_chunk_extensions = 128;
  limits.framing_allowance = 512;
  limits.buffer_capacity = 1024 + 512;
  RequestReader reader(limits);
  reader.Start();
  std::string buffer;
  std::size_t pos = 0;
  for (int steps = 0; steps < 100000; ++steps) {
    const std::size_t room = limits.buffer_capacity - buffer.size();
    const std::size_t take = std::min({room, piece, input.size() - pos});
    buffer.append(input.substr(pos, take));
    pos += take;
    Check(buffer.size() <= limits.buffer_capacity);
    const bool full = buffer.size() == limits.buffer_capacity;
    RequestReader::Step step = reader.Feed(buffer, full);
    Check(step.consumed <= buffer.size());
    buffer.erase(0, step.consumed);
    switch (step.kind) {
      case Kind::kRefused:
        Check(step.status >= 400 && step.status < 500);
        return 0;  // the server answers and closes
      case Kind::kComplete: {
        auto request = reader.Release();
        Check(request.body().size() <= limits.body_limit);
        reader.Start();
        continue;
      }
      case Kind::kContinue:
        continue;
      case Kind::kNeedMore:
        // A full buffer with no progress must have been refused above.
        Check(!(full && step.consumed == 0));
        if (take == 0 && step.consumed == 0) return 0;  // input exhausted mid-request
        continue;
    }
  }
  std::abort();  // no progress in 100,000 steps: the parse loops
}

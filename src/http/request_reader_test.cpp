// RequestReader: the server's request path without sockets — every request either completes,
// needs more bytes that can fit, or is refused once with a status; never a wait for bytes that
// cannot fit, never a body framed two ways.
#include "http/request_reader.hpp"

#include <gtest/gtest.h>

#include <string>

namespace scrutin::http {
namespace {

using Kind = RequestReader::Step::Kind;

// Feeds `bytes` through a buffer of `limits.buffer_capacity` bytes, `chunk` bytes at a time, as
// the server does; returns the last step.
RequestReader::Step Feed(RequestReader& reader, const std::string& bytes,
                        const ReaderLimits& limits, std::size_t chunk = SIZE_MAX) {
  std::string buffer;
  std::size_t pos = 0;
  reader.Start();
  RequestReader::Step step;
  while (true) {
    std::size_t room = limits.buffer_capacity - buffer.size();
    std::size_t take = std::min({room, chunk, bytes.size() - pos});
    buffer.append(bytes, pos, take);
    pos += take;
    step = reader.Feed(buffer, buffer.size() == limits.buffer_capacity);
    buffer.erase(0, step.consumed);
    if (step.kind != Kind::kNeedMore && step.kind != Kind::kContinue) return step;
    if (take == 0 && step.consumed == 0) return step;  // all fed, no progress: needs more
  }
}

RequestReader::Step Feed(const std::string& bytes, std::size_t chunk = SIZE_MAX) {
  ReaderLimits limits;
  RequestReader reader(limits);
  return Feed(reader, bytes, limits, chunk);
}

const std::string kVoteHead = "POST /api/v1/vote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";

TEST(RequestReader, ReadsAGetAndAPost) {
  EXPECT_EQ(Feed("GET /api/v1/laws HTTP/1.1\r\nHost: x\r\n\r\n").kind, Kind::kComplete);
  ReaderLimits limits;
  RequestReader reader(limits);
  auto step = Feed(reader, kVoteHead + "Content-Length: 2\r\n\r\n{}", limits);
  ASSERT_EQ(step.kind, Kind::kComplete);
  EXPECT_EQ(reader.Release().body(), "{}");
}

// Found by the fuzzer: a final chunk with an (empty) extension whose line arrives before the
// blank line that ends the body made Boost 1.74's parser assert in debug builds (see
// src/http/CMakeLists.txt). Split anywhere, the request ends with an answer, never an abort.
TEST(RequestReader, FinalChunkSplitFromItsTerminatorNeverAborts) {
  const std::string head = kVoteHead + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n";
  for (const std::string last : {"0;\r\n\r\n", "0\r\n\r\n", "0;x=1\r\n\r\n"}) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, SIZE_MAX}) {
      auto step = Feed(head + last, chunk);
      EXPECT_TRUE(step.kind == Kind::kComplete || step.kind == Kind::kRefused)
          << last << " in pieces of " << chunk;
    }
  }
}

TEST(RequestReader, ByteByByteIsTheSameAsAllAtOnce) {
  ReaderLimits limits;
  RequestReader reader(limits);
  auto step = Feed(reader, kVoteHead + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                  limits, 1);
  ASSERT_EQ(step.kind, Kind::kComplete);
  EXPECT_EQ(reader.Release().body(), "{}");
}

TEST(RequestReader, AChunkExtensionBombIsRefused) {
  // 13 KB of extension on one chunk line: more than the buffer holds.
  auto step = Feed(kVoteHead + "Transfer-Encoding: chunked\r\n\r\n1;" + std::string(13000, 'a'));
  ASSERT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 431);
  // Extensions that each fit but add up beyond the per-request bound.
  std::string many;
  for (int i = 0; i < 20; ++i) many += "1;" + std::string(100, 'e') + "\r\nx\r\n";
  step = Feed(kVoteHead + "Transfer-Encoding: chunked\r\n\r\n" + many, 7);
  ASSERT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 400);
}

TEST(RequestReader, ATrailerBombIsRefused) {
  std::string trailer = "X-Pad: " + std::string(13000, 'b') + "\r\n";
  auto step = Feed(kVoteHead + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n" + trailer);
  ASSERT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 431);
}

TEST(RequestReader, ChunkFramingIsBoundedInAll) {
  // 1-byte chunks with long zero-padded sizes: each line fits, the whole does not.
  std::string body;
  for (int i = 0; i < 400; ++i) body += std::string(60, '0') + "1\r\nx\r\n";
  auto step = Feed(kVoteHead + "Transfer-Encoding: chunked\r\n\r\n" + body, 512);
  ASSERT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 400);
}

TEST(RequestReader, TransferCodingsOtherThanChunkedAreRefused) {
  for (const char* te : {"gzip, chunked, identity", "chunked, gzip", "identity", "gzip",
                         "chunked, chunked", "chunked;q=1", ", chunked, , chunked"}) {
    auto step = Feed(kVoteHead + "Transfer-Encoding: " + te + "\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(step.kind, Kind::kRefused) << te;
    EXPECT_EQ(step.status, 400) << te;
  }
  // Two fields: the list is "gzip, chunked".
  auto step = Feed(kVoteHead + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 400);
  EXPECT_EQ(Feed(kVoteHead + "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n").kind, Kind::kComplete);
}

TEST(RequestReader, TransferEncodingWithContentLengthOrInHttp10IsRefused) {
  auto step =
      Feed(kVoteHead + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 400);
  step = Feed("POST /api/v1/vote HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 400);
}

TEST(RequestReader, LimitsOnHeaderAndBody) {
  auto step = Feed("GET / HTTP/1.1\r\nX: " + std::string(9000, 'h') + "\r\n\r\n");
  EXPECT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 431);
  step = Feed(kVoteHead + "Content-Length: 5000\r\n\r\n");
  EXPECT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 413);
  step = Feed(kVoteHead + "Transfer-Encoding: chunked\r\n\r\n1001\r\n" + std::string(4097, 'x'));
  EXPECT_EQ(step.kind, Kind::kRefused);
  EXPECT_EQ(step.status, 413);
}

TEST(RequestReader, ExpectContinueIsAskedOnce) {
  ReaderLimits limits;
  RequestReader reader(limits);
  reader.Start();
  std::string head = kVoteHead + "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n";
  auto step = reader.Feed(head, false);
  ASSERT_EQ(step.kind, Kind::kContinue);
  EXPECT_EQ(step.consumed, head.size());
  step = reader.Feed("{}", false);
  EXPECT_EQ(step.kind, Kind::kComplete);
}

TEST(RequestReader, GarbageIsRefused) {
  EXPECT_EQ(Feed("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello").kind, Kind::kRefused);
  EXPECT_EQ(Feed("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n\r\n").kind,
            Kind::kRefused);
}

}  // namespace
}  // namespace scrutin::http

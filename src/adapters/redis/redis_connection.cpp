#include "adapters/redis/redis_connection.hpp"

#include <hiredis/hiredis.h>

#include "core/timeval.hpp"

namespace scrutin::redis {
namespace {

using core::Fail;

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

}  // namespace

Command Command::Keyless(std::initializer_list<std::string_view> args) {
  Command c;
  for (auto a : args) c.args.emplace_back(a);
  return c;
}

Command Command::Keyed(int key_arg, std::initializer_list<std::string_view> args) {
  Command c = Keyless(args);
  c.key_arg = key_arg;
  return c;
}

struct RedisConnection::Context {
  redisContext* c = nullptr;
};

core::Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const Endpoint& endpoint, const ClientOptions& options, const std::string& password, int db) {
  std::unique_ptr<RedisConnection> conn(new RedisConnection());
  conn->endpoint_ = endpoint;
  conn->ctx_ = new Context;
  redisContext* c = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port,
                                            core::ToTimeval(options.connect_timeout));
  conn->ctx_->c = c;
  if (c == nullptr) return Fail("redis " + endpoint.ToString() + ": out of memory connecting");
  if (c->err != 0) {
    return Fail("redis " + endpoint.ToString() + ": cannot connect: " + std::string(c->errstr));
  }
  if (redisSetTimeout(c, core::ToTimeval(options.command_timeout)) != REDIS_OK) {
    return Fail("redis " + endpoint.ToString() + ": cannot set the socket timeout");
  }
  redisEnableKeepAlive(c);
  if (!password.empty()) {
    auto r = conn->Run(Command::Keyless({"AUTH", password}));
    if (!r.ok()) return Fail(r.error());
    if (r->is_error()) return Fail("redis " + endpoint.ToString() + ": AUTH refused: " + r->str);
  }
  if (db != 0) {
    auto r = conn->Run(Command::Keyless({"SELECT", std::to_string(db)}));
    if (!r.ok()) return Fail(r.error());
    if (r->is_error()) return Fail("redis " + endpoint.ToString() + ": SELECT failed: " + r->str);
  }
  return conn;
}

RedisConnection::~RedisConnection() {
  if (ctx_ != nullptr) {
    if (ctx_->c != nullptr) redisFree(ctx_->c);
    delete ctx_;
  }
}

void RedisConnection::Append(const Command& command) {
  // Small pipelines are the common case: keep the pointer arrays on the stack when they fit.
  constexpr std::size_t kInline = 16;
  const char* argv_inline[kInline];
  std::size_t len_inline[kInline];
  std::vector<const char*> argv_heap;
  std::vector<std::size_t> len_heap;
  const char** argv = argv_inline;
  std::size_t* lens = len_inline;
  const std::size_t n = command.args.size();
  if (n > kInline) {
    argv_heap.resize(n);
    len_heap.resize(n);
    argv = argv_heap.data();
    lens = len_heap.data();
  }
  for (std::size_t i = 0; i < n; ++i) {
    argv[i] = command.args[i].data();
    lens[i] = command.args[i].size();
  }
  if (redisAppendCommandArgv(ctx_->c, static_cast<int>(n), argv, lens) != REDIS_OK) broken_ = true;
}

core::Result<Reply> RedisConnection::Read() {
  if (broken_) return Fail("redis " + endpoint_.ToString() + ": connection is broken");
  void* raw = nullptr;
  if (redisGetReply(ctx_->c, &raw) != REDIS_OK || raw == nullptr) {
    broken_ = true;
    std::string why = ctx_->c->err != 0 ? std::string(ctx_->c->errstr) : "no reply";
    if (ctx_->c->err == REDIS_ERR_IO && (why.find("temporarily unavailable") != std::string::npos ||
                                         why.find("timed out") != std::string::npos)) {
      why = "no answer within the command timeout";
    }
    return Fail("redis " + endpoint_.ToString() + ": " + why);
  }
  Reply reply = Convert(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

core::Status RedisConnection::Flush() {
  if (broken_) return Fail("redis " + endpoint_.ToString() + ": connection is broken");
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx_->c, &done) != REDIS_OK) {
      broken_ = true;
      return Fail("redis " + endpoint_.ToString() + ": write failed: " +
                  (ctx_->c->err != 0 ? std::string(ctx_->c->errstr) : std::string("unknown")));
    }
  }
  return {};
}

core::Result<Reply> RedisConnection::Run(const Command& command) {
  Append(command);
  return Read();
}

}  // namespace scrutin::redis

#include "adapters/redis/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <thread>

namespace scrutin::redis {
namespace {

using core::Fail;
using SteadyClock = std::chrono::steady_clock;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

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

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" -> the endpoint.
std::optional<Endpoint> RedirectTarget(std::string_view error) {
  auto space = error.rfind(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto ep = ParseEndpoint(error.substr(space + 1));
  if (!ep.ok()) return std::nullopt;
  return *ep;
}

std::uint16_t Crc16(std::string_view data) {
  // CRC16-XMODEM (polynomial 0x1021, init 0), the variant Redis Cluster uses.
  std::uint16_t crc = 0;
  for (unsigned char c : data) {
    crc ^= static_cast<std::uint16_t>(c) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string Endpoint::ToString() const { return host + ":" + std::to_string(port); }

core::Result<Endpoint> ParseEndpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Fail("redis address '" + std::string(text) + "' is not host:port");
  }
  Endpoint ep;
  ep.host = std::string(text.substr(0, colon));
  auto port_text = text.substr(colon + 1);
  // CLUSTER SLOTS / MOVED may carry "host:port@cport" in some versions.
  if (auto at = port_text.find('@'); at != std::string_view::npos)
    port_text = port_text.substr(0, at);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), ep.port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || ep.port < 1 ||
      ep.port > 65535) {
    return Fail("redis address '" + std::string(text) + "' has no valid port");
  }
  return ep;
}

core::Result<RedisTarget> ParseRedisTarget(std::string_view url) {
  RedisTarget t;
  std::string_view rest = url;
  if (StartsWith(rest, "redis://")) {
    rest.remove_prefix(8);
  } else if (StartsWith(rest, "redis-cluster://")) {
    rest.remove_prefix(16);
    t.cluster = true;
  } else if (rest.find("://") != std::string_view::npos) {
    return Fail("unsupported redis URL scheme in '" + std::string(url) +
                "' (expected redis:// or redis-cluster://)");
  } else {
    t.cluster = true;  // bare host:port list
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    t.password =
        std::string(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    auto db_text = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db_text.empty()) {
      if (t.cluster) return Fail("a redis cluster URL cannot select a database");
      auto [ptr, ec] = std::from_chars(db_text.data(), db_text.data() + db_text.size(), t.db);
      if (ec != std::errc() || ptr != db_text.data() + db_text.size() || t.db < 0) {
        return Fail("redis URL '" + std::string(url) + "' has a bad database number");
      }
    }
  }
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto part = rest.substr(0, comma);
    auto ep = ParseEndpoint(part);
    if (!ep.ok()) return Fail(ep.error());
    t.nodes.push_back(*ep);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (t.nodes.empty()) return Fail("redis URL '" + std::string(url) + "' names no host:port");
  if (!t.cluster && t.nodes.size() != 1) {
    return Fail("redis:// names one node; use redis-cluster://h:p,h:p for a cluster");
  }
  return t;
}

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

std::uint16_t KeySlot(std::string_view key) {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) & (kClusterSlots - 1);
}

// ---------------------------------------------------------------------------------------------
// RedisConnection

struct RedisConnection::Context {
  redisContext* c = nullptr;
};

core::Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const Endpoint& endpoint, const ClientOptions& options, const std::string& password, int db) {
  std::unique_ptr<RedisConnection> conn(new RedisConnection());
  conn->endpoint_ = endpoint;
  conn->ctx_ = new Context;
  redisContext* c = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port,
                                            ToTimeval(options.connect_timeout));
  conn->ctx_->c = c;
  if (c == nullptr) return Fail("redis " + endpoint.ToString() + ": out of memory connecting");
  if (c->err != 0) {
    return Fail("redis " + endpoint.ToString() + ": cannot connect: " + std::string(c->errstr));
  }
  if (redisSetTimeout(c, ToTimeval(options.command_timeout)) != REDIS_OK) {
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

// ---------------------------------------------------------------------------------------------
// RedisClient

core::Result<std::unique_ptr<RedisClient>> RedisClient::Connect(const RedisTarget& target,
                                                                const ClientOptions& options) {
  if (target.nodes.empty()) return Fail("redis: no node to connect to");
  std::unique_ptr<RedisClient> client(new RedisClient());
  client->target_ = target;
  client->options_ = options;
  client->slots_.fill(-1);
  for (const auto& ep : target.nodes) client->NodeIndex(ep);
  if (!target.cluster) {
    client->masters_ = {0};
    auto conn = client->Conn(0);
    if (!conn.ok()) return Fail(conn.error());
    return client;
  }
  auto st = client->RefreshSlots();
  if (!st.ok()) return Fail(st.error());
  return client;
}

std::size_t RedisClient::NodeIndex(const Endpoint& endpoint) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].endpoint == endpoint) return i;
  }
  nodes_.push_back(Node{endpoint, nullptr, 0, {}});
  return nodes_.size() - 1;
}

core::Result<RedisConnection*> RedisClient::Conn(std::size_t index) {
  Node& node = nodes_[index];
  if (node.conn && !node.conn->broken()) return node.conn.get();
  node.conn.reset();
  std::string last_error;
  for (int attempt = 0; attempt < options_.connect_attempts; ++attempt) {
    // Back off after consecutive failures so that a node that is down is not hammered.
    auto now = SteadyClock::now();
    if (node.failures > 0 && now < node.retry_at) std::this_thread::sleep_until(node.retry_at);
    auto conn = RedisConnection::Connect(node.endpoint, options_, target_.password, target_.db);
    if (conn.ok()) {
      node.failures = 0;
      node.conn = std::move(*conn);
      return node.conn.get();
    }
    last_error = conn.error();
    node.failures = std::min(node.failures + 1, 16);
    auto backoff = std::chrono::milliseconds(25) * (1 << std::min(node.failures - 1, 10));
    node.retry_at =
        SteadyClock::now() + std::min<std::chrono::milliseconds>(backoff, options_.max_backoff);
  }
  return Fail(last_error);
}

int RedisClient::Route(const Command& command) const {
  if (!target_.cluster) return 0;
  if (command.key_arg < 0) return masters_.empty() ? 0 : static_cast<int>(masters_.front());
  int node = slots_[KeySlot(command.key())];
  if (node < 0) return masters_.empty() ? 0 : static_cast<int>(masters_.front());
  return node;
}

core::Status RedisClient::RefreshSlots() {
  if (!target_.cluster) return {};
  // Ask the nodes we know, seeds first; the first complete answer wins.
  std::string last_error = "no node answered";
  const std::size_t known = nodes_.size();
  for (std::size_t i = 0; i < known; ++i) {
    auto conn = Conn(i);
    if (!conn.ok()) {
      last_error = conn.error();
      continue;
    }
    auto reply = (*conn)->Run(Command::Keyless({"CLUSTER", "SLOTS"}));
    if (!reply.ok()) {
      last_error = reply.error();
      continue;
    }
    if (reply->type != Reply::Type::kArray) {
      last_error = "redis " + nodes_[i].endpoint.ToString() + ": CLUSTER SLOTS failed: " +
                   (reply->is_error() ? reply->str : "unexpected reply");
      continue;
    }
    std::array<std::int16_t, kClusterSlots> slots;
    slots.fill(-1);
    std::vector<std::size_t> masters;
    for (const auto& range : reply->elements) {
      if (range.type != Reply::Type::kArray || range.elements.size() < 3) continue;
      const auto& from = range.elements[0];
      const auto& to = range.elements[1];
      const auto& master = range.elements[2];
      if (from.type != Reply::Type::kInteger || to.type != Reply::Type::kInteger ||
          master.type != Reply::Type::kArray || master.elements.size() < 2 ||
          master.elements[1].type != Reply::Type::kInteger) {
        continue;
      }
      Endpoint ep{master.elements[0].str, static_cast<int>(master.elements[1].integer)};
      // A node that announces no address is the one we asked.
      if (ep.host.empty() || ep.host == "?") ep.host = nodes_[i].endpoint.host;
      std::size_t idx = NodeIndex(ep);
      if (std::find(masters.begin(), masters.end(), idx) == masters.end()) masters.push_back(idx);
      for (long long s = std::max(0LL, from.integer);
           s <= std::min<long long>(to.integer, kClusterSlots - 1); ++s) {
        slots[s] = static_cast<std::int16_t>(idx);
      }
    }
    if (masters.empty()) {
      last_error = "redis " + nodes_[i].endpoint.ToString() + ": CLUSTER SLOTS lists no master";
      continue;
    }
    slots_ = slots;
    masters_ = std::move(masters);
    return {};
  }
  return Fail("redis cluster: cannot read the slot map: " + last_error);
}

std::vector<Endpoint> RedisClient::Masters() const {
  std::vector<Endpoint> out;
  for (auto i : masters_) out.push_back(nodes_[i].endpoint);
  return out;
}

core::Result<Reply> RedisClient::ExecuteOn(const Endpoint& node, const Command& command) {
  auto conn = Conn(NodeIndex(node));
  if (!conn.ok()) return Fail(conn.error());
  return (*conn)->Run(command);
}

core::Result<Reply> RedisClient::Execute(const Command& command) {
  Reply reply;
  auto st = Execute(std::span<const Command>(&command, 1), std::span<Reply>(&reply, 1));
  if (!st.ok()) return Fail(st.error());
  return reply;
}

core::Status RedisClient::Execute(std::span<const Command> commands, std::span<Reply> out) {
  struct Item {
    std::size_t index;  // into commands / out
    int node;
    bool asking;  // send ASKING first (ASK redirection)
  };
  std::vector<Item> todo;
  todo.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) todo.push_back({i, Route(commands[i]), false});

  static const Command kAsking = Command::Keyless({"ASKING"});
  int unreachable_rounds = 0;
  std::vector<Item> again;
  std::vector<Item> group;
  for (int round = 0; !todo.empty(); ++round) {
    if (round > options_.max_redirects) {
      return Fail("redis: " + std::to_string(todo.size()) + " command(s) still redirected after " +
                  std::to_string(options_.max_redirects) +
                  " attempts (cluster resharding or down?)");
    }
    again.clear();
    bool refresh = false;
    bool transient = false;
    // One pipeline per node, in the commands' order within it. Every node's pipeline is written
    // before any reply is read, so the nodes work in parallel: one round trip in all.
    struct Group {
      int node;
      RedisConnection* conn;
      std::vector<Item> items;
    };
    std::vector<Group> groups;
    for (const auto& item : todo) {
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const Group& x) { return x.node == item.node; });
      if (g == groups.end()) {
        groups.push_back({item.node, nullptr, {}});
        g = groups.end() - 1;
      }
      g->items.push_back(item);
    }
    // After an I/O error the replies still in flight on the other connections of this round
    // cannot be matched to their commands any more: drop those connections too.
    auto drop_all = [&] {
      for (auto& g : groups) {
        if (g.conn != nullptr) nodes_[g.node].conn.reset();
      }
    };
    for (auto& g : groups) {
      auto conn = Conn(static_cast<std::size_t>(g.node));
      if (!conn.ok()) {
        // Conn() already retried with backoff; one more round after a map refresh covers a
        // failover, more would only make the caller wait.
        if (!target_.cluster || ++unreachable_rounds > 1) {
          drop_all();
          return Fail(conn.error());
        }
        refresh = true;
        for (const auto& item : g.items) again.push_back({item.index, -1, false});
        continue;
      }
      g.conn = *conn;
      for (const auto& item : g.items) {
        if (item.asking) g.conn->Append(kAsking);
        g.conn->Append(commands[item.index]);
      }
    }
    for (auto& g : groups) {
      if (g.conn == nullptr) continue;
      if (auto st = g.conn->Flush(); !st.ok()) {
        drop_all();
        return st;
      }
    }
    std::string failure;
    for (auto& g : groups) {
      if (g.conn == nullptr) continue;
      for (const auto& item : g.items) {
        if (item.asking) {
          auto asking = g.conn->Read();
          if (!asking.ok()) {
            drop_all();
            return Fail(asking.error());
          }
        }
        auto reply = g.conn->Read();
        if (!reply.ok()) {
          drop_all();
          return Fail(reply.error());
        }
        if (reply->is_error()) {
          std::string_view err = reply->str;
          const bool moved = StartsWith(err, "MOVED ");
          if (moved || StartsWith(err, "ASK ")) {
            auto ep = RedirectTarget(err);
            if (!ep) {
              // Keep reading this pipeline so the connection stays in step; fail afterwards.
              failure = "redis: malformed redirection '" + reply->str + "'";
              continue;
            }
            int target = static_cast<int>(NodeIndex(*ep));
            if (moved) {
              slots_[KeySlot(commands[item.index].key())] = static_cast<std::int16_t>(target);
              ++moved_;
              refresh = true;
            } else {
              ++ask_;
            }
            again.push_back({item.index, target, !moved});
            continue;
          }
          if (StartsWith(err, "TRYAGAIN") || StartsWith(err, "CLUSTERDOWN") ||
              StartsWith(err, "LOADING")) {
            transient = true;
            again.push_back({item.index, item.node, item.asking});
            continue;
          }
        }
        out[item.index] = std::move(*reply);
      }
    }
    if (!failure.empty()) return Fail(failure);
    if (refresh) {
      // A failed refresh keeps the MOVED hints; the next round tries again.
      (void)RefreshSlots();
      for (auto& item : again) {
        if (item.node < 0) item.node = Route(commands[item.index]);
      }
    }
    if (transient) {
      auto pause = std::min<std::chrono::milliseconds>(
          std::chrono::milliseconds(10) * (1 << std::min(round, 6)), options_.max_backoff);
      std::this_thread::sleep_for(pause);
    }
    // Keep the commands' order within each node for the next round.
    std::sort(again.begin(), again.end(),
              [](const Item& a, const Item& b) { return a.index < b.index; });
    todo.swap(again);
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// RedisClientPool

core::Result<std::shared_ptr<RedisClientPool>> RedisClientPool::Create(const RedisTarget& target,
                                                                       const ClientOptions& options,
                                                                       std::size_t max_clients) {
  std::shared_ptr<RedisClientPool> pool(
      new RedisClientPool(target, options, std::max<std::size_t>(1, max_clients)));
  auto first = RedisClient::Connect(target, options);
  if (!first.ok()) return Fail(first.error());
  pool->idle_.push_back(std::move(*first));
  return pool;
}

core::Result<RedisClientPool::Lease> RedisClientPool::Acquire() {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, options_.acquire_timeout,
                    [&] { return !idle_.empty() || leased_ < max_clients_; })) {
    return Fail("redis: no connection free within " +
                std::to_string(options_.acquire_timeout.count()) + " ms (" +
                std::to_string(max_clients_) + " in use)");
  }
  ++leased_;
  if (!idle_.empty()) {
    auto client = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(client));
  }
  lock.unlock();
  auto client = RedisClient::Connect(target_, options_);
  if (!client.ok()) {
    lock.lock();
    --leased_;
    cv_.notify_one();
    return Fail(client.error());
  }
  return Lease(this, std::move(*client));
}

void RedisClientPool::Release(std::unique_ptr<RedisClient> client) {
  std::lock_guard lock(mu_);
  --leased_;
  if (client) idle_.push_back(std::move(client));
  cv_.notify_one();
}

RedisClientPool::Lease::~Lease() {
  if (pool_ != nullptr && client_) pool_->Release(std::move(client_));
}

}  // namespace scrutin::redis

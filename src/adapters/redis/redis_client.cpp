#include "adapters/redis/redis_client.hpp"

#include <algorithm>
#include <optional>
#include <thread>

namespace scrutin::redis {
namespace {

using core::Fail;
using SteadyClock = std::chrono::steady_clock;

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
    auto conn = RedisConnection::Connect(node.endpoint, options_, target_);
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
          const bool moved = err.starts_with("MOVED ");
          if (moved || err.starts_with("ASK ")) {
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
          if (err.starts_with("TRYAGAIN") || err.starts_with("CLUSTERDOWN") ||
              err.starts_with("LOADING")) {
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

}  // namespace scrutin::redis

// `scrutin deadletter list|replay`: inspects votes.dead and publishes its messages back where they
// came from once their cause is fixed (rabbitmq::DeadLetters). Nothing is dropped either way;
// replay is idempotent (every stage recognises a request id it has seen).
#include <cstdio>

#include "adapters/rabbitmq/dead_letters.hpp"
#include "apps/backend_url.hpp"
#include "apps/commands.hpp"
#include "apps/distributed.hpp"
#include "apps/tls_policy.hpp"

namespace scrutin::apps {
namespace {

struct DeadletterOptions {
  BackendUrl amqp;
  std::string queue_type = dist::kDefaultQueueType;
  std::size_t limit = 1000;
};

std::unique_ptr<rabbitmq::DeadLetters> OpenDeadLetters(const DeadletterOptions& o) {
  const dist::Broker broker = dist::ResolveBroker(o.amqp.Get(), o.queue_type);
  CheckAmqp(broker.endpoint);
  return Require(rabbitmq::DeadLetters::Open(broker.endpoint, broker.topology),
                 "cannot open " + broker.topology.dead_queue + " at " + broker.endpoint.ToString());
}

void List(const DeadletterOptions& o) {
  auto dead = OpenDeadLetters(o);
  auto letters = Require(dead->List(o.limit), "cannot list the dead letters");
  std::size_t votes = 0, replayable = 0;
  for (const auto& d : letters) {
    std::string laws;
    for (const auto& law : d.laws) laws += (laws.empty() ? "" : ",") + law;
    std::printf("%-15s votes=%-4zu laws=%-20s %s%s reason: %s\n", d.routing_key.c_str(), d.votes,
                laws.empty() ? "-" : laws.c_str(), d.replayable ? "replayable" : "kept      ",
                d.source_queue.empty() ? "" : (" from " + d.source_queue).c_str(),
                d.reason.c_str());
    votes += d.votes;
    replayable += d.replayable ? 1 : 0;
  }
  std::printf("deadletter: %zu messages listed (%zu votes), %zu replayable; left in place\n",
              letters.size(), votes, replayable);
}

void Replay(const DeadletterOptions& o) {
  auto dead = OpenDeadLetters(o);
  auto report = Require(dead->Replay(o.limit), "replay stopped (replaying again is safe)");
  std::printf(
      "deadletter: %zu messages (%zu votes) published back to the pipeline; %zu left in place "
      "(not decodable or not the pipeline's)\n",
      report.replayed, report.votes, report.left);
}

}  // namespace

void AddDeadletterCommand(CLI::App& app) {
  auto o = std::make_shared<DeadletterOptions>();
  auto* cmd = app.add_subcommand("deadletter",
                                 "Inspect votes.dead (distributed shape) and replay its messages");
  cmd->require_subcommand(1);
  auto add_common = [&](CLI::App* sub) {
    dist::AddAmqpFlags(sub, o->amqp);
    dist::AddQueueTypeOption(sub, o->queue_type);
    sub->add_option("--limit", o->limit, "Messages to look at, at most")->capture_default_str();
  };
  auto* list = cmd->add_subcommand(
      "list", "List the messages of votes.dead with their reason (without removing them)");
  add_common(list);
  AddRequireTlsFlag(list);
  list->callback([o] { List(*o); });
  auto* replay = cmd->add_subcommand(
      "replay",
      "Publish the messages of votes.dead back to the pipeline (idempotent), removing them");
  add_common(replay);
  AddRequireTlsFlag(replay);
  replay->callback([o] { Replay(*o); });
}

}  // namespace scrutin::apps

// scrutin: one binary, one subcommand per role. Binaries are wiring: each command parses its
// configuration and connects adapters to the pipeline; no business rule lives in src/apps.
#include <csignal>
#include <cstdio>

#include "apps/commands.hpp"
#include "apps/process_hygiene.hpp"

int main(int argc, char** argv) {
  // Before any command runs: every one of them may hold the election key, credentials or votes
  // in memory (serve, api, validator, aggregator for hours; keygen and hashgen the key), none of
  // which may end up in a core file (src/apps/process_hygiene.hpp).
  if (auto hygiene = scrutin::apps::ApplyProcessHygiene(); !hygiene) {
    std::fprintf(stderr, "scrutin: error: %s\n", hygiene.error().c_str());
    return 1;
  }
  // A peer that closed its end makes a write fail with EPIPE instead of killing the process:
  // OpenSSL (HTTPS, rediss://, amqps://) and hiredis write to their sockets with write(), which
  // raises SIGPIPE; Asio already sends with MSG_NOSIGNAL. Every server does this (nginx, Redis).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app;
  scrutin::apps::BuildApp(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const scrutin::apps::CommandError& e) {
    std::fprintf(stderr, "scrutin: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

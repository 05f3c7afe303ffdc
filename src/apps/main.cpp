// scrutin: one binary, one subcommand per role. Binaries are wiring: each command parses its
// configuration and connects adapters to the pipeline; no business rule lives in src/apps.
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
  CLI::App app{
      "scrutin — referendum voting system (offline tools, embedded and distributed shapes)",
      "scrutin"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "scrutin 0.1.0");
  app.footer("Run `scrutin <command> --help` for the options of one command.");

  scrutin::apps::AddVotersCommand(app);
  scrutin::apps::AddKeygenCommand(app);
  scrutin::apps::AddHashgenCommand(app);
  scrutin::apps::AddServeCommand(app);
  scrutin::apps::AddLoadHashesCommand(app);
  scrutin::apps::AddApiCommand(app);
  scrutin::apps::AddValidatorCommand(app);
  scrutin::apps::AddAggregatorCommand(app);
  scrutin::apps::AddLoadgenCommand(app);

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

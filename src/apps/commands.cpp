#include "apps/commands.hpp"

namespace scrutin::apps {

void BuildApp(CLI::App& app) {
  app.description(
      "scrutin — referendum voting system (offline tools, embedded and distributed shapes)");
  app.name("scrutin");
  app.require_subcommand(1);
  app.set_version_flag("--version", "scrutin 0.1.0");
  app.footer("Run `scrutin <command> --help` for the options of one command.");

  AddVotersCommand(app);
  AddKeygenCommand(app);
  AddHashgenCommand(app);
  AddServeCommand(app);
  AddLoadHashesCommand(app);
  AddApiCommand(app);
  AddValidatorCommand(app);
  AddAggregatorCommand(app);
  AddLedgerCommand(app);
  AddDeadletterCommand(app);
  AddVerifyRecordCommand(app);
  AddLoadgenCommand(app);
  AddHealthCommand(app);
}

}  // namespace scrutin::apps

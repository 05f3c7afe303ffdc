#include "apps/commands.hpp"

namespace scrutin::apps {

void AddVotersCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("voters", "(being built)");
  cmd->callback([] { throw CommandError("'voters' is not built yet"); });
}

}  // namespace scrutin::apps

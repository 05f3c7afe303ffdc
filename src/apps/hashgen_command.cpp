#include "apps/commands.hpp"

namespace scrutin::apps {

void AddHashgenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("hashgen", "(being built)");
  cmd->callback([] { throw CommandError("'hashgen' is not built yet"); });
}

}  // namespace scrutin::apps

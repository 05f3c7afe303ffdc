#include "apps/commands.hpp"

namespace scrutin::apps {

void AddLoadgenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("loadgen", "(being built)");
  cmd->callback([] { throw CommandError("'loadgen' is not built yet"); });
}

}  // namespace scrutin::apps

#include "apps/commands.hpp"

namespace scrutin::apps {

void AddServeCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "(being built)");
  cmd->callback([] { throw CommandError("'serve' is not built yet"); });
}

}  // namespace scrutin::apps

#include "apps/commands.hpp"

namespace scrutin::apps {

void AddKeygenCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("keygen", "(being built)");
  cmd->callback([] { throw CommandError("'keygen' is not built yet"); });
}

}  // namespace scrutin::apps

// The subcommands of the `scrutin` binary. Each Add*Command registers its CLI11 subcommand and
// the callback that runs it; a callback reports failure by throwing CommandError (one clear line
// for the operator, exit code 1) and never prints a NAS or code.
// Private to src/apps: other modules use its public headers.
#pragma once

#include <CLI/CLI.hpp>
#include <stdexcept>

namespace scrutin::apps {

struct CommandError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Sets up `app` as the `scrutin` binary: its description and version, one subcommand required,
// and every subcommand below registered. main() and the wiring test (commands_test.cpp) both use
// it, so the test checks the binary's own command line.
void BuildApp(CLI::App& app);

// Offline phase.
void AddVotersCommand(CLI::App& app);   // voters generate
void AddKeygenCommand(CLI::App& app);   // keygen
void AddHashgenCommand(CLI::App& app);  // hashgen

// Online phase.
void AddServeCommand(CLI::App& app);  // serve (embedded shape)

// Distributed shape.
void AddLoadHashesCommand(CLI::App& app);  // load-hashes
void AddApiCommand(CLI::App& app);         // api
void AddValidatorCommand(CLI::App& app);   // validator
void AddAggregatorCommand(CLI::App& app);  // aggregator
void AddLedgerCommand(CLI::App& app);      // ledger rebuild
void AddDeadletterCommand(CLI::App& app);  // deadletter list|replay

// Audit.
void AddVerifyRecordCommand(CLI::App& app);  // verify-record

// Measurement.
void AddLoadgenCommand(CLI::App& app);  // loadgen

// Operations.
void AddHealthCommand(CLI::App& app);  // health (the container's probe)

}  // namespace scrutin::apps

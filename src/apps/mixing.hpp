// The mixer's flags and start-up, shared by `serve` (embedded) and `aggregator` (distributed):
// --ballot-key-file, --record-key-file, --mix-size, --mix-settle-ms; metrics scrutin_mixer_*; errors logged.
// docs/ballot-secrecy.md says what the mixer does; pipeline/mixer.hpp how.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/ballot.hpp"
#include "core/record.hpp"
#include "core/sealed_ballot.hpp"
#include "metrics/registry.hpp"
#include "pipeline/mixer.hpp"
#include "ports/ballot_box.hpp"

namespace scrutin::apps {

struct MixFlags {
  std::string ballot_key_file;
  std::string record_key_file;
  std::size_t mix_size = pipeline::kDefaultMixSize;
  int settle_ms = 5000;
};

// Adds --ballot-key-file and --record-key-file (required unless `key_optional`), --mix-size and
// --mix-settle-ms.
void AddMixFlags(CLI::App* cmd, MixFlags& flags, bool key_optional);

// A mixer over `box`, its metrics registered in `registry`. With `own_thread`, started: its thread
// mixes whatever waits now (votes recorded before a restart) and then every time it is woken or a
// second passes. Without, the caller runs its rounds (RunNow) on the thread that owns `box`.
// `record_signer` signs each closed law's record (logged as record_sealed with its public key).
std::unique_ptr<pipeline::Mixer> StartMixer(const core::Ballot& ballot, core::BallotSealer sealer,
                                            std::shared_ptr<const core::RecordSigner> record_signer,
                                            ports::BallotBox& box, const MixFlags& flags,
                                            metrics::Registry& registry, bool own_thread);

}  // namespace scrutin::apps

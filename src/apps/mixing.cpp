#include "apps/mixing.hpp"

#include <chrono>

#include "apps/log.hpp"

namespace scrutin::apps {

void AddMixFlags(CLI::App* cmd, MixFlags& flags, bool key_optional) {
  auto* key = cmd->add_option(
                     "--ballot-key-file", flags.ballot_key_file,
                     key_optional
                         ? "Ballot key file (from `scrutin keygen --ballot-key`); default: "
                           "<data>/ballot.key, created at the first start (keep it elsewhere "
                           "for an election)"
                         : "Ballot key file (from `scrutin keygen --ballot-key`): opens the sealed "
                           "ballots, in groups")
                    ->envname("SCRUTIN_BALLOT_KEY_FILE");
  if (!key_optional) key->required();
  auto* record_key =
      cmd->add_option("--record-key-file", flags.record_key_file,
                      key_optional
                          ? "Record key file (from `scrutin keygen --record-key`): signs each "
                            "closed law's record; default: <data>/record.key, created at the "
                            "first start (for an election, publish its public key beforehand)"
                          : "Record key file (from `scrutin keygen --record-key`): signs each "
                            "closed law's record, published at /api/v1/record/{law}")
          ->envname("SCRUTIN_RECORD_KEY_FILE");
  if (!key_optional) record_key->required();
  cmd->add_option("--mix-size", flags.mix_size,
                  "Ballots opened together at least (k): a choice is seen only as one of a "
                  "shuffled group of at least k, and live results move by at least k at a time")
      ->envname("SCRUTIN_MIX_SIZE")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--mix-settle-ms", flags.settle_ms,
                  "How long after a law's close its last group is mixed (time for votes already "
                  "answered to be recorded)")
      ->envname("SCRUTIN_MIX_SETTLE_MS")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
}

std::unique_ptr<pipeline::Mixer> StartMixer(const core::Ballot& ballot, core::BallotSealer sealer,
                                            std::shared_ptr<const core::RecordSigner> record_signer,
                                            ports::BallotBox& box, const MixFlags& flags,
                                            metrics::Registry& registry, bool own_thread) {
  auto& groups = registry.AddCounter("scrutin_mixer_groups_total",
                                     "Groups of sealed ballots opened, shuffled and counted");
  auto& ballots = registry.AddCounter("scrutin_mixer_ballots_total",
                                      "Sealed ballots opened and counted by the mixer");
  auto& failures = registry.AddCounter(
      "scrutin_mixer_failures_total",
      "Mixer rounds that failed (store unavailable, or a ballot the key does not open)");
  auto& records = registry.AddCounter("scrutin_records_sealed_total",
                                      "Records of closed laws sealed (or found sealed) by this "
                                      "mixer");
  pipeline::MixerOptions options;
  const std::string public_key = record_signer ? record_signer->PublicKeyHex() : "";
  options.record_signer = std::move(record_signer);
  options.on_record = [&records](const std::string& law_id, const core::PublishedRecord& stored) {
    records.Get().Increment();
    nlohmann::json fields = {{"law_id", law_id}};
    // What an operator checks against the published page: the count, the hash, the key.
    if (auto r = nlohmann::json::parse(stored.record, nullptr, false); r.is_object()) {
      fields["total"] = r["tally"].value("total", 0);
      fields["receipts_sha256"] = r["receipts"].value("sha256", "");
      fields["public_key"] = r["signature"].value("public_key", "");
    }
    LogEvent(LogLevel::kInfo, "record_sealed", std::move(fields));
  };
  options.group_size = flags.mix_size;
  options.settle = std::chrono::milliseconds(flags.settle_ms);
  options.on_group = [&groups, &ballots](const std::string&, std::size_t size) {
    groups.Get().Increment();
    ballots.Get().Increment(size);
  };
  options.on_error = [&failures](core::ErrorCode code, const std::string& error) {
    failures.Get().Increment();
    LogEvent(LogLevel::kError, "mix_failed",
             {{"code", std::string(core::ToString(code))}, {"error", error}});
  };
  auto mixer = std::make_unique<pipeline::Mixer>(ballot, std::move(sealer), box, options);
  if (own_thread) {
    mixer->Start();
    mixer->Wake();
  }
  LogEvent(LogLevel::kInfo, "mixer_started",
           {{"mix_size", flags.mix_size},
            {"settle_ms", flags.settle_ms},
            {"record_public_key", public_key}});
  return mixer;
}

}  // namespace scrutin::apps

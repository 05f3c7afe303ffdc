// The wiring of the `scrutin` command line, checked without running a command: the app is built
// by BuildApp() exactly as main() builds it, plus a parse-complete callback on the top-level app.
// CLI11 runs that one once every flag has been read, checked and required, and before any
// subcommand's callback; it throws Parsed, so a parse that succeeds starts no server and touches
// no file. (Clearing the subcommands' callbacks instead would free the options they own.)
#include "apps/commands.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "apps/backend_url.hpp"

namespace scrutin::apps {
namespace {

struct Parsed {};

void StopBeforeRunning(CLI::App& app) {
  app.parse_complete_callback([] { throw Parsed{}; });
}

// Parses `args` (without the program name) as main() would; returns once the command line was
// accepted, without running the command. Throws what CLI11 throws for a rejected one.
void ParseOnly(CLI::App& app, std::vector<std::string> args) {
  args.insert(args.begin(), "scrutin");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const Parsed&) {
    return;
  }
  ADD_FAILURE() << "the command line was accepted but the stop before running was not reached";
}

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every SCRUTIN_* variable a flag reads could satisfy a required flag: none here.
    for (const char* name : {"SCRUTIN_LAWS", "SCRUTIN_HASHES", "SCRUTIN_DATA", "SCRUTIN_AMQP",
                             "SCRUTIN_REDIS", "SCRUTIN_PG", "SCRUTIN_KEY_FILE", "SCRUTIN_AMQP_FILE",
                             "SCRUTIN_REDIS_FILE", "SCRUTIN_PG_FILE"}) {
      ::unsetenv(name);
    }
    BuildApp(app_);
    StopBeforeRunning(app_);
  }

  // Parses `args` (without the program name) as main() would.
  void Parse(std::vector<std::string> args) { ParseOnly(app_, std::move(args)); }

  std::string HelpOf(const std::string& name) { return app_.get_subcommand(name)->help(); }

  CLI::App app_;
};

TEST_F(CommandsTest, EveryCommandIsRegistered) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app_.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"voters", "keygen", "hashgen", "serve", "load-hashes",
                                             "api", "validator", "aggregator", "ledger",
                                             "deadletter", "verify-record", "loadgen",
                                             "health"}));
  EXPECT_NE(app_.get_subcommand("deadletter")->get_subcommand("list"), nullptr);
  EXPECT_NE(app_.get_subcommand("deadletter")->get_subcommand("replay"), nullptr);
  EXPECT_NE(app_.get_subcommand("voters")->get_subcommand("generate"), nullptr);
}

TEST_F(CommandsTest, LedgerRebuildListsAndRequiresItsFlags) {
  const std::string help = app_.get_subcommand("ledger")->get_subcommand("rebuild")->help();
  for (const char* flag : {"--redis", "--hashes", "--pg", "--prefix"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << "ledger rebuild --help lacks " << flag;
  }
  EXPECT_THROW(Parse({"ledger"}), CLI::RequiredError);
  EXPECT_THROW(Parse({"ledger", "rebuild", "--redis", "redis://h:1", "--hashes", "/x"}),
               CLI::RequiredError);
  Parse({"ledger", "rebuild", "--redis", "redis://h:1", "--hashes", "/x", "--pg",
         "postgresql://h/db", "--prefix", "p:"});
}

TEST_F(CommandsTest, OneCommandIsRequired) { EXPECT_THROW(Parse({}), CLI::RequiredError); }

TEST_F(CommandsTest, AnUnknownCommandOrFlagIsAnError) {
  EXPECT_THROW(Parse({"vote-for-me"}), CLI::ParseError);
  EXPECT_THROW(Parse({"keygen", "--out", "/tmp/k", "--no-such-flag"}), CLI::ExtrasError);
}

TEST_F(CommandsTest, HelpIsAnsweredWithoutRunningTheCommand) {
  EXPECT_THROW(Parse({"serve", "--help"}), CLI::CallForHelp);
  EXPECT_THROW(Parse({"--version"}), CLI::CallForVersion);
}

// The flags README's command table documents, per command.
TEST_F(CommandsTest, EachCommandsHelpListsItsFlags) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"keygen", {"--out", "--ballot-key", "--record-key"}},
      {"verify-record", {"--url", "--law", "--cacert", "--record", "--receipts", "--public-key"}},
      {"hashgen",
       {"--voters", "--key-file", "--scheme", "--out", "--shard-size", "--format", "--threads"}},
      {"serve",
       {"--hashes", "--laws", "--data", "--key-file", "--listen", "--threads", "--rate-limit",
        "--client-vote-rate", "--client-vote-burst", "--client-read-rate", "--client-read-burst",
        "--max-batch", "--max-queue", "--admin-listen", "--admin-token-file",
        "--record-key-file"}},
      {"load-hashes", {"--redis", "--hashes", "--prefix"}},
      {"api",
       {"--laws", "--hashes", "--key-file", "--amqp", "--redis", "--pg", "--listen",
        "--client-vote-rate", "--publishers", "--publish-linger-us", "--prefix", "--admin-listen",
        "--admin-token-file"}},
      {"validator",
       {"--laws", "--amqp", "--redis", "--prefetch", "--prefix", "--admin-listen", "--batch",
        "--batch-wait-ms", "--status-retention-days", "--queue-type"}},
      {"aggregator",
       {"--laws", "--amqp", "--pg", "--redis", "--prefix", "--in-flight", "--admin-listen",
        "--batch", "--queue-type"}},
      {"health", {"--url", "--token-file", "--timeout-ms"}},
      {"loadgen",
       {"--target", "--cacert", "--voters", "--rate", "--duration", "--votes", "--connections", "--threads",
        "--mix", "--json", "--verify", "--seed", "--path", "--registry-offset", "--timeout",
        "--verify-timeout"}},
  };
  for (const auto& [command, flags] : expected) {
    const std::string help = HelpOf(command);
    for (const auto& flag : flags) {
      EXPECT_NE(help.find(flag), std::string::npos) << command << " --help lacks " << flag;
    }
  }
  const std::string generate = app_.get_subcommand("voters")->get_subcommand("generate")->help();
  for (const char* flag : {"--count", "--law", "--seed", "--out"}) {
    EXPECT_NE(generate.find(flag), std::string::npos) << "voters generate --help lacks " << flag;
  }
}

TEST_F(CommandsTest, RequiredFlagsAreRequired) {
  // api without --amqp.
  try {
    Parse({"api", "--laws", "l.toml", "--hashes", "h", "--ballot-key-file", "b", "--redis",
           "redis://127.0.0.1:6379", "--pg", "postgresql://u@127.0.0.1/db"});
    FAIL() << "api parsed without --amqp";
  } catch (const CLI::RequiredError& e) {
    EXPECT_NE(std::string(e.what()).find("--amqp"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Parse({"serve", "--hashes", "h", "--laws", "l.toml"}), CLI::RequiredError);
  EXPECT_THROW(Parse({"hashgen", "--voters", "v.csv"}), CLI::RequiredError);
  EXPECT_THROW(Parse({"aggregator", "--laws", "l.toml", "--amqp", "amqp://x"}), CLI::RequiredError);
  // The distributed api seals ballots and the aggregator opens them: both need the ballot key.
  try {
    Parse({"aggregator", "--laws", "l.toml", "--amqp", "amqp://x", "--pg", "postgresql://u@h/db",
           "--redis", "redis://127.0.0.1:6379"});
    FAIL() << "aggregator parsed without --ballot-key-file";
  } catch (const CLI::RequiredError& e) {
    EXPECT_NE(std::string(e.what()).find("--ballot-key-file"), std::string::npos) << e.what();
  }
  // The aggregator's mixer signs each closed law's record: it needs the record key.
  try {
    Parse({"aggregator", "--laws", "l.toml", "--amqp", "amqp://x", "--pg", "postgresql://u@h/db",
           "--redis", "redis://127.0.0.1:6379", "--ballot-key-file", "b"});
    FAIL() << "aggregator parsed without --record-key-file";
  } catch (const CLI::RequiredError& e) {
    EXPECT_NE(std::string(e.what()).find("--record-key-file"), std::string::npos) << e.what();
  }
  // A record comes with its receipts list; the two sources do not mix.
  EXPECT_THROW(Parse({"verify-record", "--record", "r.json"}), CLI::ParseError);
  EXPECT_THROW(Parse({"verify-record", "--url", "http://x", "--record", "r", "--receipts", "s"}),
               CLI::ParseError);
  EXPECT_THROW(Parse({"keygen", "--ballot-key", "--record-key", "--out", "k"}), CLI::ParseError);
}

TEST_F(CommandsTest, EachCommandParsesItsDocumentedFlags) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "scrutin_commands_test";
  std::filesystem::create_directories(dir);
  const std::string voters = (dir / "voters.csv").string();
  std::ofstream(voters) << "nas,code,law_id\n";  // loadgen checks that --voters exists

  const std::vector<std::vector<std::string>> lines = {
      {"voters", "generate", "--count", "10", "--law", "L2025-001", "--seed", "1", "--out",
       "v.csv"},
      {"keygen", "--out", "k"},
      {"keygen", "--ballot-key", "--out", "b"},
      {"keygen", "--record-key", "--out", "r"},
      {"verify-record", "--url", "https://vote.example", "--law", "L2025-001", "--public-key",
       std::string(64, 'a')},
      {"verify-record", "--record", "r.json", "--receipts", "r.txt"},
      {"hashgen", "--voters", "v.csv", "--key-file", "k", "--scheme", "sha256", "--out", "h",
       "--shard-size", "100", "--format", "json", "--threads", "2"},
      {"serve",  "--hashes",     "h",           "--laws",
       "l.toml", "--data",       "d",           "--key-file",
       "k",      "--listen",     "127.0.0.1:0", "--threads",
       "2",      "--rate-limit", "100",         "--client-vote-rate",
       "5",      "--max-batch",  "64",          "--max-queue",
       "1000",   "--ballot-key-file", "b", "--mix-size", "10", "--mix-settle-ms", "100"},
      {"load-hashes", "--redis", "redis://127.0.0.1:6379", "--hashes", "h", "--prefix", "p:"},
      {"api", "--laws", "l.toml", "--hashes", "h", "--ballot-key-file", "b", "--amqp",
       "amqp://g:g@127.0.0.1:5672/",
       "--redis", "redis://127.0.0.1:6379", "--pg", "postgresql://u@127.0.0.1/db",
       "--client-vote-rate", "5", "--admin-listen", "127.0.0.1:0"},
      {"validator", "--laws", "l.toml", "--amqp", "amqp://g:g@127.0.0.1:5672/", "--redis",
       "redis://127.0.0.1:6379", "--batch", "50", "--queue-type", "quorum"},
      {"aggregator", "--laws", "l.toml", "--amqp", "amqp://g:g@127.0.0.1:5672/", "--pg",
       "postgresql://u@127.0.0.1/db", "--redis", "redis://127.0.0.1:6379", "--batch-wait-ms", "5",
       "--ballot-key-file", "b", "--record-key-file", "r", "--mix-size", "100"},
      {"deadletter", "list", "--amqp", "amqp://g:g@127.0.0.1:5672/", "--limit", "10"},
      {"deadletter", "replay", "--amqp", "amqp://g:g@127.0.0.1:5672/", "--queue-type", "quorum"},
      {"loadgen", "--voters", voters, "--rate", "max", "--votes", "10", "--registry-offset", "3"},
      {"health"},
      {"health", "--url", "http://127.0.0.1:9100/livez", "--token-file", "t", "--timeout-ms",
       "500"},
  };
  for (const auto& line : lines) {
    CLI::App app;
    BuildApp(app);
    StopBeforeRunning(app);
    EXPECT_NO_THROW(ParseOnly(app, line)) << line[0];
  }
  std::filesystem::remove_all(dir);
}

// Every command that takes a backend URL takes it from a file too, exactly one of the two.
TEST_F(CommandsTest, BackendUrlsComeFromAFlagOrAFile) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> takes = {
      {"api", {"--amqp", "--redis", "--pg"}},
      {"validator", {"--amqp", "--redis"}},
      {"aggregator", {"--amqp", "--redis", "--pg"}},
      {"load-hashes", {"--redis"}},
  };
  for (const auto& [command, flags] : takes) {
    const std::string help = HelpOf(command);
    for (const auto& flag : flags) {
      EXPECT_NE(help.find(flag + "-file"), std::string::npos) << command << " lacks " << flag;
      std::string env = "SCRUTIN_" + flag.substr(2) + "_FILE";
      for (char& c : env) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      EXPECT_NE(help.find(env), std::string::npos) << command << " lacks " << env;
    }
  }
  for (const auto* sub : {"list", "replay"}) {
    EXPECT_NE(app_.get_subcommand("deadletter")->get_subcommand(sub)->help().find("--amqp-file"),
              std::string::npos);
  }
  const std::string rebuild = app_.get_subcommand("ledger")->get_subcommand("rebuild")->help();
  EXPECT_NE(rebuild.find("--pg-file"), std::string::npos);
  EXPECT_NE(rebuild.find("--redis-file"), std::string::npos);

  const std::vector<std::string> base = {"validator", "--laws", "l.toml", "--redis",
                                         "redis://127.0.0.1:6379"};
  auto with = [&](std::vector<std::string> extra) {
    auto line = base;
    line.insert(line.end(), extra.begin(), extra.end());
    return line;
  };
  // The parse does not read the file: the command does, when it starts.
  Parse(with({"--amqp-file", "/run/secrets/amqp_url"}));
  try {
    Parse(with({"--amqp", "amqp://g:secret@h/", "--amqp-file", "/run/secrets/amqp_url"}));
    FAIL() << "both --amqp and --amqp-file accepted";
  } catch (const CLI::RequiredError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--amqp"), std::string::npos) << what;
    EXPECT_NE(what.find("--amqp-file"), std::string::npos) << what;
    EXPECT_EQ(what.find("secret"), std::string::npos) << "echoes the URL: " << what;
  }
  // The environment counts as given: SCRUTIN_AMQP_FILE alone, or beside --amqp (refused).
  ::setenv("SCRUTIN_AMQP_FILE", "/run/secrets/amqp_url", 1);
  Parse(base);
  EXPECT_THROW(Parse(with({"--amqp", "amqp://g:g@h/"})), CLI::RequiredError);
  ::unsetenv("SCRUTIN_AMQP_FILE");
  EXPECT_THROW(Parse(base), CLI::RequiredError);
}

TEST(BackendUrlTest, ReadsTheFirstLineOfAnOwnerOnlyFile) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "scrutin_backend_url_test";
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  };
  BackendUrl pg{.url = {}, .file = {}, .flag = "--pg", .what = "PostgreSQL URL"};
  pg.url = "postgresql://u@h/db";
  EXPECT_EQ(pg.Get(), "postgresql://u@h/db");
  for (const std::string text : {"postgresql://u:pw@h/db", "postgresql://u:pw@h/db\n",
                                 "postgresql://u:pw@h/db \r\n", "postgresql://u:pw@h/db\nmore\n"}) {
    pg.file = write("pg_url", text, 0600);
    EXPECT_EQ(pg.Get(), "postgresql://u:pw@h/db") << text;
  }
  for (const std::string text : {"", "\n", "  \r\n"}) {
    pg.file = write("empty", text, 0400);
    try {
      pg.Get();
      FAIL() << "an empty file accepted";
    } catch (const CommandError& e) {
      EXPECT_NE(std::string(e.what()).find("--pg-file"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
    }
  }
  // Group- or world-readable (owned by this process's user): refused, the URL never echoed.
  for (mode_t mode : {0640, 0644, 0604}) {
    pg.file = write("open", "postgresql://u:hunter2@h/db\n", mode);
    try {
      pg.Get();
      FAIL() << "mode " << mode << " accepted";
    } catch (const CommandError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("too open"), std::string::npos) << what;
      EXPECT_NE(what.find("--pg-file"), std::string::npos) << what;
      EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
    }
  }
  pg.file = (dir / "missing").string();
  EXPECT_THROW(pg.Get(), CommandError);
  std::filesystem::remove_all(dir);
}

TEST_F(CommandsTest, FlagValuesAreChecked) {
  EXPECT_THROW(Parse({"validator", "--laws", "l.toml", "--amqp", "amqp://x", "--redis", "r",
                      "--queue-type", "lazy"}),
               CLI::ValidationError);
  EXPECT_THROW(Parse({"hashgen", "--voters", "v.csv", "--out", "h", "--threads", "0"}),
               CLI::ValidationError);
  EXPECT_THROW(Parse({"loadgen", "--voters", "/no/such/registry.csv", "--rate", "max"}),
               CLI::ValidationError);
}

}  // namespace
}  // namespace scrutin::apps

// cfgsync: keeps a folder of config files backed up in S3-compatible storage.
#include <malloc.h>

#include "cli/common.h"
#include "core/log.h"

// An exception escaping main is a bug, and std::terminate reports it.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): see above
  using namespace cfgsync::cli;
  /* glibc gives each thread that allocates its own arena (up to 8 per core), each keeping
   * freed memory for reuse. The transfer threads only wait on the network, so two arenas cost
   * no speed and keep the sidecar's resident memory from growing with --transfers. */
  mallopt(M_ARENA_MAX, 2);
  CLI::App app{"cfgsync: back up and restore a folder of config files to S3-compatible storage"};
  app.require_subcommand(1);
  app.fallthrough();  // common flags may follow the subcommand name
  CommonFlags flags;
  Action action;
  AddCommonFlags(app, flags);
  RegisterVersion(app, action);
  RegisterLs(app, flags, action);
  RegisterRestore(app, flags, action);
  RegisterSync(app, flags, action);
  RegisterWatch(app, flags, action);
  RegisterRun(app, flags, action);
  RegisterStatus(app, flags, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (AskedForJson(argc, argv)) (void)cfgsync::SetupLogging("info", "json");
    return Report(cfgsync::Error{cfgsync::ErrorKind::kConfig,
                                 std::string(e.what()) + " (see cfgsync --help)"});
  }
  /* Logging is set up before any subcommand checks its own flags, so that even those errors
   * come out as JSON lines when asked. */
  if (auto ok = cfgsync::SetupLogging(flags.log_level, flags.log_format); !ok) {
    return Report(ok.error());
  }
  return action ? action() : kExitUsage;
}

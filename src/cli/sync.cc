#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "sync/push.h"

namespace cfgsync::cli {
namespace {

struct SyncFlags {
  std::string dir = "/config";
  std::string max_delete = "50%";
  bool dry_run = false;
  FilterOptions filter;
};

int RunSyncCommand(const CommonFlags& common, const SyncFlags& flags) {
  int code = kExitOk;
  auto guard = ParseDeleteGuard(flags.max_delete);
  if (!guard) return Report(guard.error());
  auto filter = BuildFilterOrReport(flags.filter, &code);
  if (!filter) return code;
  RemoteSpec spec;
  auto remote = OpenRemoteOrReport(common, &spec, &code);
  if (!remote) return code;
  spdlog::info("syncing {} to {}{}", flags.dir, spec.display, flags.dry_run ? " (dry run)" : "");
  Pusher pusher(*remote, *filter,
                PushOptions{flags.dir, *guard, common.remote.transfers, flags.dry_run},
                RealClock::Get());
  auto stats = pusher.Reconcile();
  if (!stats) return Report(stats.error().With("sync to " + spec.display));
  spdlog::info("{}{}", flags.dry_run ? "dry run: would have " : "", SummaryLine(*stats));
  bool ok = stats->failed == 0 && stats->blocked_deletes == 0 && stats->changed_while_read == 0;
  return ok ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterSync(CLI::App& app, CommonFlags& common, Action& action) {
  static SyncFlags flags;
  auto* cmd =
      app.add_subcommand("sync", "one reconcile of --dir to the backup, with the deletion guard");
  AddFlag(*cmd, "dir", flags.dir, "the folder to back up");
  AddFlag(*cmd, "max-delete", flags.max_delete,
          "a pass deleting more than N or N% deletes nothing");
  cmd->add_flag("--dry-run", flags.dry_run, "print the plan, change nothing")
      ->envname("CFGSYNC_DRY_RUN");
  AddFilterFlags(*cmd, flags.filter);
  cmd->callback([&] { action = [&] { return RunSyncCommand(common, flags); }; });
}

}  // namespace cfgsync::cli

#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "sync/push.h"

namespace cfgsync::cli {
namespace {

int RunSyncCommand(const CommonFlags& common, const FolderFlags& folder,
                   const std::string& max_delete, bool dry_run, bool allow_deletions) {
  int code = kExitOk;
  auto guard = ParseDeleteGuard(max_delete);
  if (!guard) return Report(guard.error());
  if (allow_deletions) *guard = DeleteGuard{};  // an emptied folder still deletes nothing
  auto in = OpenInputs(common, folder.filter, &code);
  if (!in) return code;
  auto& [filter, spec, remote] = *in;
  spdlog::info("syncing {} to {}{}", folder.dir, spec.display, dry_run ? " (dry run)" : "");
  PushOptions push{folder.dir, *guard, common.remote.transfers, dry_run};
  push.marker_id = MarkerId(spec);
  Pusher pusher(*remote, filter, push, RealClock::Get());
  auto stats = pusher.Reconcile();
  if (!stats) return Report(stats.error().With("sync to " + spec.display));
  spdlog::info("{}{}", dry_run ? "dry run: would have " : "", SummaryLine(*stats));
  if (std::string hint = OwnerHint(folder.dir, pusher.gaps()); !hint.empty())
    spdlog::warn("{}", hint);
  bool ok = stats->failed == 0 && stats->blocked_deletes == 0 && stats->changed_while_read == 0 &&
            pusher.gaps().Count() == 0;
  return ok ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterSync(CLI::App& app, CommonFlags& common, Action& action) {
  static FolderFlags folder;
  static std::string max_delete = "50%";
  static bool dry_run = false;
  auto* cmd =
      app.add_subcommand("sync", "one reconcile of --dir to the backup, with the deletion guard");
  AddFolderFlags(*cmd, folder);
  AddFlag(*cmd, "max-delete", max_delete, "a pass deleting more than N or N% deletes nothing");
  static bool allow_deletions = false;
  cmd->add_flag("--dry-run", dry_run, "print the plan, change nothing")->envname("CFGSYNC_DRY_RUN");
  cmd->add_flag("--allow-deletions", allow_deletions,
                "apply deletions the guard holds back (--max-delete does not apply; a missing "
                "or empty --dir still deletes nothing)");
  cmd->callback([&] {
    action = [&] { return RunSyncCommand(common, folder, max_delete, dry_run, allow_deletions); };
  });
}

}  // namespace cfgsync::cli

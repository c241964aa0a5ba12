#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "sync/push.h"

namespace cfgsync::cli {

// `run` = restore, then watch, in one process: for a Kubernetes native sidecar (an init
// container with restartPolicy Always) whose startup probe passes once the restore is done.
void RegisterRun(CLI::App& app, CommonFlags& common, Action& action) {
  static FolderFlags folder;
  static RestoreFlags restore;
  static WatchFlags watch;
  auto* cmd = app.add_subcommand("run", "restore --dir, then watch it (native sidecar)");
  AddFolderFlags(*cmd, folder);
  AddRestoreFlags(*cmd, restore, false);
  AddWatchFlags(*cmd, watch);
  cmd->callback([&] {
    action = [&] {
      int code = kExitOk;
      auto ropts = ParseRestoreFlags(restore, folder, common.remote.transfers);
      if (!ropts) return Report(ropts.error());
      auto wopts = ParseWatchFlags(watch, folder, common.remote.transfers);
      if (!wopts) return Report(wopts.error());
      auto guard = ParseDeleteGuard(watch.max_delete);
      if (!guard) return Report(guard.error());
      auto filter = BuildFilterOrReport(folder.filter, &code);
      if (!filter) return code;
      RemoteSpec spec;
      auto remote = OpenRemoteOrReport(common, &spec, &code);
      if (!remote) return code;
      if (int rc = DoRestore(*remote, spec, *filter, *ropts); rc != kExitOk) return rc;
      return DoWatch(*remote, spec, *filter, *wopts, *guard);
    };
  });
}

}  // namespace cfgsync::cli

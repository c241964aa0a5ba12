#include "cli/common.h"
#include "core/fs.h"

namespace cfgsync::cli {

// `run` = restore, then watch, in one process: for a Kubernetes native sidecar (an init
// container with restartPolicy Always) whose startup probe (/readyz) passes once the restore
// and the first reconcile are done.
void RegisterRun(CLI::App& app, CommonFlags& common, Action& action) {
  static FolderFlags folder;
  static RestoreFlags restore;
  static WatchFlags watch;
  restore.offline_after = "30s";
  watch.shutdown_quiet = "0s";  // a native sidecar is stopped after the app: nothing to wait for
  auto* cmd = app.add_subcommand("run", "restore --dir, then watch it (native sidecar)");
  AddFolderFlags(*cmd, folder);
  AddRestoreFlags(*cmd, restore, false);
  AddWatchFlags(*cmd, watch);
  cmd->callback([&] {
    action = [&] {
      int code = kExitOk;
      auto ropts = ParseRestoreFlags(restore, folder, common.remote.transfers);
      if (!ropts) return Report(ropts.error());
      auto setup = ParseWatchFlags(watch, folder, common.remote.transfers);
      if (!setup) return Report(setup.error());
      auto in = OpenInputs(common, folder.filter, &code);
      if (!in) return code;
      auto& [filter, spec, remote] = *in;
      static WatchState state;
      state.process.phase = Phase::kRestoring;
      // Blocked before any thread starts: a SIGTERM during the restore interrupts it (exit
      // non-zero, no watch); one during the waits before it ends them.
      auto signal_fd = Sidecar::BlockStopSignals();
      if (!signal_fd) return Report(signal_fd.error());
      UniqueFd signals(*signal_fd);
      auto http = StartHttp(*setup, state, &code);
      if (code != kExitOk) return code;
      if (int rc = DoRestore(*remote, spec, filter, *ropts, &state.process, signals.get());
          rc != kExitOk)
        return rc;
      state.process.phase = Phase::kStarting;
      return DoWatch(*remote, spec, filter, *setup, state, signals.get());
    };
  });
}

}  // namespace cfgsync::cli

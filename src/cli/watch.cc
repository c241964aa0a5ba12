#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

#include "cli/common.h"
#include "core/duration.h"
#include "sync/push.h"

namespace cfgsync::cli {

void AddWatchFlags(CLI::App& cmd, WatchFlags& flags) {
  AddFlag(cmd, "debounce", flags.debounce, "push a change after this much quiet");
  AddFlag(cmd, "max-delay", flags.max_delay,
          "push a change at the latest this long after it began");
  AddFlag(cmd, "interval", flags.interval, "full reconcile this often, as a safety net");
  AddFlag(cmd, "shutdown-timeout", flags.shutdown_timeout,
          "on SIGTERM, time allowed to push what is pending");
  AddFlag(cmd, "max-delete", flags.max_delete, "a pass deleting more than N or N% deletes nothing");
}

Result<SidecarOptions> ParseWatchFlags(const WatchFlags& flags, const FolderFlags& folder,
                                       int transfers) {
  SidecarOptions o;
  o.dir = folder.dir;
  o.transfers = transfers;
  struct Item {
    const std::string& text;
    const char* flag;
    Millis* out;
  };
  for (const Item& i : {Item{flags.debounce, "--debounce", &o.debounce},
                        Item{flags.max_delay, "--max-delay", &o.max_delay},
                        Item{flags.interval, "--interval", &o.interval},
                        Item{flags.shutdown_timeout, "--shutdown-timeout", &o.shutdown_timeout}}) {
    auto d = ParseDuration(i.text, i.flag);
    if (!d) return std::unexpected(d.error());
    *i.out = *d;
  }
  if (o.interval < Millis(1000)) return Fail(ErrorKind::kConfig, "--interval must be at least 1s");
  return o;
}

int DoWatch(Remote& remote, const RemoteSpec& spec, const Filter& filter,
            const SidecarOptions& opts, const DeleteGuard& guard) {
  int signal_fd = Sidecar::BlockStopSignals();
  spdlog::info("watching {} -> {} (debounce {}, max delay {}, interval {}, {})", opts.dir.string(),
               spec.display, FormatDuration(opts.debounce), FormatDuration(opts.max_delay),
               FormatDuration(opts.interval), filter.Describe());
  Pusher pusher(remote, filter, PushOptions{opts.dir, guard, opts.transfers, false},
                RealClock::Get());
  Sidecar sidecar(pusher, filter, opts);
  int code = sidecar.Run(signal_fd);
  // Workers still inside a request at the deadline cannot be joined: end the process now.
  spdlog::shutdown();
  std::fflush(nullptr);
  ::_exit(code);
}

void RegisterWatch(CLI::App& app, CommonFlags& common, Action& action) {
  static FolderFlags folder;
  static WatchFlags flags;
  auto* cmd = app.add_subcommand("watch", "keep the backup equal to --dir in real time (sidecar)");
  AddFolderFlags(*cmd, folder);
  AddWatchFlags(*cmd, flags);
  cmd->callback([&] {
    action = [&] {
      int code = kExitOk;
      auto opts = ParseWatchFlags(flags, folder, common.remote.transfers);
      if (!opts) return Report(opts.error());
      auto guard = ParseDeleteGuard(flags.max_delete);
      if (!guard) return Report(guard.error());
      auto filter = BuildFilterOrReport(folder.filter, &code);
      if (!filter) return code;
      RemoteSpec spec;
      auto remote = OpenRemoteOrReport(common, &spec, &code);
      if (!remote) return code;
      return DoWatch(*remote, spec, *filter, *opts, *guard);
    };
  });
}

}  // namespace cfgsync::cli

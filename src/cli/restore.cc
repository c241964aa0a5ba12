#include "sync/restore.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <stop_token>
#include <thread>

#include "cli/common.h"
#include "core/duration.h"
#include "core/fs.h"
#include "core/log.h"
#include "sync/marker.h"

namespace cfgsync::cli {

void AddRestoreFlags(CLI::App& cmd, RestoreFlags& flags, bool dry_run) {
  AddFlag(cmd, "on-conflict", flags.on_conflict,
          "an existing local file that differs: newer (keep the newer mtime), remote or local");
  AddFlag(cmd, "chown", flags.chown, "UID:GID: give every restored file and new folder this owner");
  cmd.add_flag("--allow-missing-bucket", flags.allow_missing_bucket,
               "treat a missing bucket as a first deployment")
      ->envname("CFGSYNC_ALLOW_MISSING_BUCKET");
  cmd.add_flag("--allow-root-owner", flags.allow_root_owner,
               "apply a stored owner of uid or gid 0 (root); without it such files get --dir's "
               "owner")
      ->envname("CFGSYNC_ALLOW_ROOT_OWNER");
  AddFlag(cmd, "offline-after", flags.offline_after,
          "remote unreachable this long: start from --dir if it holds this remote's last "
          "restore (0: fail at once)");
  if (dry_run) {
    cmd.add_flag("--dry-run", flags.dry_run, "print the plan, write nothing")
        ->envname("CFGSYNC_DRY_RUN");
  }
}

std::string MarkerId(const RemoteSpec& spec) {
  if (spec.is_local) return spec.display;
  return (spec.s3.endpoint.empty() ? std::string("aws") : spec.s3.endpoint) + " " + spec.display;
}

Result<RestoreSetup> ParseRestoreFlags(const RestoreFlags& flags, const FolderFlags& folder,
                                       int transfers) {
  auto policy = ParseConflictPolicy(flags.on_conflict);
  if (!policy) return std::unexpected(policy.error());
  auto offline = ParseDuration(flags.offline_after, "--offline-after");
  if (!offline) return std::unexpected(offline.error());
  RestoreSetup setup{{}, *offline};
  RestoreOptions& opts = setup.opts;
  opts.dir = folder.dir;
  opts.policy = *policy;
  opts.dry_run = flags.dry_run;
  opts.allow_missing_bucket = flags.allow_missing_bucket;
  opts.allow_root_owner = flags.allow_root_owner;
  opts.transfers = transfers;
  if (!flags.chown.empty()) {
    auto owner = ParseOwner(flags.chown);
    if (!owner) return std::unexpected(owner.error());
    opts.chown = *owner;
  }
  return setup;
}

namespace {

// Waits `wait` or until SIGTERM/SIGINT arrives on `signal_fd` (true then).
bool StopSignalled(int signal_fd, Millis wait) {
  if (signal_fd < 0) {
    std::this_thread::sleep_for(wait);
    return false;
  }
  pollfd p{signal_fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

/* The remote did not answer (network, 5xx, throttling): a pod must not start an app on an
 * empty folder while a backup may exist, so the restore is tried again until the remote
 * answers; but a folder that holds this remote's last restore or push (its marker) may be used
 * as it is once `offline_after` has passed, and the sidecar catches up when the remote is
 * back. Returns the restore's result, or nullopt when starting from the local folder. */
std::optional<Result<RestoreStats>> RestoreOrWait(Remote& remote, const RemoteSpec& spec,
                                                  const Filter& filter, const RestoreSetup& setup,
                                                  int signal_fd) {
  const RestoreOptions& opts = setup.opts;
  const MonoTime start = RealClock::Get().Mono();
  Millis pause{1'000};
  for (bool said = false;; said = true) {
    auto stats = RunRestore(remote, filter, opts, RealClock::Get());
    if (stats || setup.offline_after.count() == 0 || !IsRetryable(stats.error().kind)) return stats;
    const bool marked = ReadMarker(opts.dir) == MarkerId(spec);
    if (marked && RealClock::Get().Mono() - start >= setup.offline_after) {
      spdlog::warn(
          WithFields("remote unreachable: starting from the local folder, which holds "
                     "its last restore; the backup catches up when it answers",
                     {{"error", stats.error().message}, {"dir", opts.dir.string()}}));
      return std::nullopt;
    }
    if (!said) {
      spdlog::warn(WithFields(marked ? "remote unreachable: retrying before starting from the "
                                       "local folder"
                                     : "remote unreachable and no earlier restore in --dir: "
                                       "waiting for it (an app started on an empty folder "
                                       "could overwrite its backup)",
                              {{"error", stats.error().message}}));
    }
    if (StopSignalled(signal_fd, pause)) return stats;
    pause = std::min(pause * 2, Millis(10'000));
  }
}

/* SIGTERM or SIGINT during a restore stops its downloads (RestoreOptions::stop). The signalfd
 * is polled, not read, so that `run` still finds the signal pending afterwards. */
class StopOnSignal {
 public:
  explicit StopOnSignal(int signal_fd) {
    if (signal_fd < 0) return;
    thread_ = std::jthread([this, signal_fd](const std::stop_token& done) {
      pollfd p{signal_fd, POLLIN, 0};
      while (!done.stop_requested()) {
        if (::poll(&p, 1, 100) > 0) {
          stop_.request_stop();
          return;
        }
      }
    });
  }
  std::stop_token token() const { return stop_.get_token(); }

 private:
  std::stop_source stop_;
  std::jthread thread_;  // declared last: joined before stop_ is destroyed
};

}  // namespace

int DoRestore(Remote& remote, const RemoteSpec& spec, const Filter& filter,
              const RestoreSetup& setup, ProcessState* state, int signal_fd) {
  RestoreSetup s = setup;
  RestoreOptions& opts = s.opts;
  opts.bucket_label = spec.is_local
                          ? "local remote " + spec.display
                          : "bucket \"" + spec.s3.bucket + "\" (from " + spec.bucket_source + ")";
  spdlog::info("restoring {} into {}{}", spec.display, opts.dir.string(),
               opts.dry_run ? " (dry run)" : "");
  StopOnSignal on_signal(signal_fd);
  opts.stop = on_signal.token();
  auto result = RestoreOrWait(remote, spec, filter, s, signal_fd);
  if (!result) return kExitOk;  // offline start from the marked folder
  auto& stats = *result;
  if (!stats) return Report(stats.error().With("restore from " + spec.display));
  if (!opts.dry_run && stats->failed == 0) {
    std::optional<std::pair<uid_t, gid_t>> owner;
    if (opts.chown) owner.emplace(opts.chown->uid, opts.chown->gid);
    if (auto ok = WriteMarker(opts.dir, MarkerId(spec), owner); !ok)
      spdlog::warn("cannot write the marker: {}", ok.error().message);
  }
  if (stats->first_deployment) {
    spdlog::info("nothing to restore under {}: first deployment", spec.display);
    return kExitOk;
  }
  spdlog::info("{}{}", opts.dry_run ? "dry run: would have " : "", SummaryLine(*stats));
  if (state) {
    state->restore_files = stats->restored;
    state->restore_bytes = static_cast<std::int64_t>(stats->bytes);
    state->restore_rejected = stats->rejected;
  }
  return stats->failed > 0 ? kExitFailure : kExitOk;
}

void RegisterRestore(CLI::App& app, CommonFlags& common, Action& action) {
  static FolderFlags folder;
  static RestoreFlags flags;
  auto* cmd = app.add_subcommand("restore", "bring the backup's files into --dir (init container)");
  AddFolderFlags(*cmd, folder);
  AddRestoreFlags(*cmd, flags, true);
  cmd->callback([&] {
    action = [&] {
      int code = kExitOk;
      auto setup = ParseRestoreFlags(flags, folder, common.remote.transfers);
      if (!setup) return Report(setup.error());
      // Blocked before any thread starts, so that every thread inherits the mask.
      auto signal_fd = Sidecar::BlockStopSignals();
      if (!signal_fd) return Report(signal_fd.error());
      UniqueFd signals(*signal_fd);
      auto in = OpenInputs(common, folder.filter, &code);
      if (!in) return code;
      auto& [filter, spec, remote] = *in;
      return DoRestore(*remote, spec, filter, *setup, nullptr, signals.get());
    };
  });
}

}  // namespace cfgsync::cli

#include "sync/restore.h"

#include <spdlog/spdlog.h>

#include "cli/common.h"

namespace cfgsync::cli {

void AddRestoreFlags(CLI::App& cmd, RestoreFlags& flags, bool dry_run) {
  AddFlag(cmd, "on-conflict", flags.on_conflict,
          "an existing local file that differs: newer (keep the newer mtime), remote or local");
  AddFlag(cmd, "chown", flags.chown, "UID:GID: give every restored file and new folder this owner");
  cmd.add_flag("--allow-missing-bucket", flags.allow_missing_bucket,
               "treat a missing bucket as a first deployment")
      ->envname("CFGSYNC_ALLOW_MISSING_BUCKET");
  if (dry_run) {
    cmd.add_flag("--dry-run", flags.dry_run, "print the plan, write nothing")
        ->envname("CFGSYNC_DRY_RUN");
  }
}

Result<RestoreOptions> ParseRestoreFlags(const RestoreFlags& flags, const FolderFlags& folder,
                                         int transfers) {
  auto policy = ParseConflictPolicy(flags.on_conflict);
  if (!policy) return std::unexpected(policy.error());
  RestoreOptions opts;
  opts.dir = folder.dir;
  opts.policy = *policy;
  opts.dry_run = flags.dry_run;
  opts.allow_missing_bucket = flags.allow_missing_bucket;
  opts.transfers = transfers;
  if (!flags.chown.empty()) {
    auto owner = ParseOwner(flags.chown);
    if (!owner) return std::unexpected(owner.error());
    opts.chown = *owner;
  }
  return opts;
}

int DoRestore(Remote& remote, const RemoteSpec& spec, const Filter& filter, RestoreOptions opts,
              ProcessState* state) {
  opts.bucket_label = spec.is_local
                          ? "local remote " + spec.display
                          : "bucket \"" + spec.s3.bucket + "\" (from " + spec.bucket_source + ")";
  spdlog::info("restoring {} into {}{}", spec.display, opts.dir.string(),
               opts.dry_run ? " (dry run)" : "");
  auto stats = RunRestore(remote, filter, opts, RealClock::Get());
  if (!stats) return Report(stats.error().With("restore from " + spec.display));
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
      auto opts = ParseRestoreFlags(flags, folder, common.remote.transfers);
      if (!opts) return Report(opts.error());
      auto in = OpenInputs(common, folder.filter, &code);
      if (!in) return code;
      auto& [filter, spec, remote] = *in;
      return DoRestore(*remote, spec, filter, *opts);
    };
  });
}

}  // namespace cfgsync::cli

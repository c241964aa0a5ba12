#include "sync/restore.h"

#include <spdlog/spdlog.h>

#include "cli/common.h"

namespace cfgsync::cli {
namespace {

struct RestoreFlags {
  std::string dir = "/config";
  std::string on_conflict = "newer";
  std::string chown;
  bool dry_run = false;
  bool allow_missing_bucket = false;
  FilterOptions filter;
};

int RunRestoreCommand(const CommonFlags& common, const RestoreFlags& flags) {
  int code = kExitOk;
  auto policy = ParseConflictPolicy(flags.on_conflict);
  if (!policy) return Report(policy.error());
  RestoreOptions opts{flags.dir,
                      *policy,
                      flags.dry_run,
                      flags.allow_missing_bucket,
                      std::nullopt,
                      common.remote.transfers,
                      ""};
  if (!flags.chown.empty()) {
    auto owner = ParseOwner(flags.chown);
    if (!owner) return Report(owner.error());
    opts.chown = *owner;
  }
  auto filter = BuildFilterOrReport(flags.filter, &code);
  if (!filter) return code;
  RemoteSpec spec;
  auto remote = OpenRemoteOrReport(common, &spec, &code);
  if (!remote) return code;
  opts.bucket_label = spec.is_local
                          ? "local remote " + spec.display
                          : "bucket \"" + spec.s3.bucket + "\" (from " + spec.bucket_source + ")";
  spdlog::info("restoring {} into {}{}", spec.display, flags.dir,
               flags.dry_run ? " (dry run)" : "");
  auto stats = RunRestore(*remote, *filter, opts, RealClock::Get());
  if (!stats) return Report(stats.error().With("restore from " + spec.display));
  if (stats->first_deployment) {
    spdlog::info("nothing to restore under {}: first deployment", spec.display);
    return kExitOk;
  }
  spdlog::info("{}{}", flags.dry_run ? "dry run: would have " : "", SummaryLine(*stats));
  return stats->failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void RegisterRestore(CLI::App& app, CommonFlags& common, Action& action) {
  static RestoreFlags flags;
  auto* cmd = app.add_subcommand("restore", "bring the backup's files into --dir (init container)");
  AddFlag(*cmd, "dir", flags.dir, "the folder to restore into");
  AddFlag(*cmd, "on-conflict", flags.on_conflict,
          "existing local file that differs: newer, remote or local");
  AddFlag(*cmd, "chown", flags.chown, "UID:GID: give every restored file this owner");
  cmd->add_flag("--dry-run", flags.dry_run, "print the plan, write nothing")
      ->envname("CFGSYNC_DRY_RUN");
  cmd->add_flag("--allow-missing-bucket", flags.allow_missing_bucket,
                "treat a missing bucket as a first deployment")
      ->envname("CFGSYNC_ALLOW_MISSING_BUCKET");
  AddFilterFlags(*cmd, flags.filter);
  cmd->callback([&] { action = [&] { return RunRestoreCommand(common, flags); }; });
}

}  // namespace cfgsync::cli

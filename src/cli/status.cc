#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/common.h"
#include "core/text.h"
#include "sync/gaps.h"
#include "sync/push.h"

namespace cfgsync::cli {
namespace {

// Compares --dir with the backup without changing anything. Exit 0 in sync, 1 not.
int RunStatus(const CommonFlags& common, const FolderFlags& folder, const std::string& max_delete) {
  int code = kExitOk;
  auto guard = ParseDeleteGuard(max_delete);
  if (!guard) return Report(guard.error());
  auto in = OpenInputs(common, folder.filter, &code);
  if (!in) return code;
  auto& [filter, spec, remote] = *in;
  Pusher pusher(*remote, filter, PushOptions{folder.dir, *guard, common.remote.transfers, true},
                RealClock::Get());
  auto plan = pusher.PlanReadOnly();
  if (!plan) return Report(plan.error().With("status of " + spec.display));
  PrintPlan(*plan);
  const std::vector<Gap> gaps = pusher.gaps().List(SIZE_MAX);
  for (const Gap& g : gaps) {
    std::printf("unprotected  %s  (%s: %s)\n", Printable(g.rel).c_str(),
                std::string(GapReasonName(g.reason)).c_str(), Printable(g.detail).c_str());
  }
  std::size_t deletes = plan->deletes.size() + static_cast<std::size_t>(plan->blocked_deletes);
  bool in_sync = plan->uploads.empty() && deletes == 0 && gaps.empty();
  std::printf("%s: %zu to upload, %zu to delete, %lld identical, %zu unprotected\n",
              in_sync ? "in sync" : "out of sync", plan->uploads.size(), deletes,
              static_cast<long long>(plan->identical), gaps.size());
  if (std::string hint = OwnerHint(folder.dir, pusher.gaps()); !hint.empty())
    std::printf("%s\n", hint.c_str());
  return in_sync ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterStatus(CLI::App& app, CommonFlags& common, Action& action) {
  static FolderFlags folder;
  static std::string max_delete = "50%";
  auto* cmd = app.add_subcommand(
      "status", "compare --dir with the backup, change nothing (exit 0 in sync, 1 not)");
  AddFolderFlags(*cmd, folder);
  AddFlag(*cmd, "max-delete", max_delete, "the deletion guard to report against");
  cmd->callback([&] { action = [&] { return RunStatus(common, folder, max_delete); }; });
}

}  // namespace cfgsync::cli

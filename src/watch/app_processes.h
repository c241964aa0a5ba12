// The app's processes, seen from the sidecar, to know when the app has gone at shutdown. Only
// possible when the pod shares one process namespace (shareProcessNamespace: true): pid 1 is
// then Kubernetes' pause container and the app's processes are visible in /proc. Elsewhere
// nothing is visible and the caller relies on the folder being quiet.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <utility>
#include <vector>

namespace cfgsync {

class AppProcesses {
 public:
  // `proc` is the procfs mount (a test points it at a fake tree).
  explicit AppProcesses(std::filesystem::path proc = "/proc") : proc_(std::move(proc)) {}

  // Records the processes other than ours and pid 1, when pid 1 is "pause"; none otherwise.
  void Snapshot();

  // Whether Snapshot() found processes to follow.
  bool Visible() const { return !pids_.empty(); }

  // Whether every process Snapshot() recorded has exited (zombies count as exited).
  bool Gone() const;

 private:
  // The start time of `pid` (field 22 of /proc/PID/stat), 0 when it is not running.
  unsigned long long StartTime(pid_t pid) const;

  std::filesystem::path proc_;
  std::vector<std::pair<pid_t, unsigned long long>> pids_;  // pid, start time (reuse-proof)
};

}  // namespace cfgsync

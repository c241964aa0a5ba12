// The push side (local folder → backup): one reconcile pass, and single-path pushes for the
// watcher, sharing an in-memory index of the remote so that unchanged files cost no request.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "core/clock.h"
#include "remote/remote.h"
#include "sync/filter.h"
#include "sync/push_plan.h"

namespace cfgsync {

struct PushOptions {
  std::filesystem::path dir;
  DeleteGuard guard;
  int transfers = 16;
  bool dry_run = false;
  // RemovePaths' guard counts the deletions made this long before together with its batch.
  Millis guard_window{60'000};
};

struct PushStats {
  std::int64_t uploaded = 0;
  std::int64_t deleted = 0;
  std::int64_t identical = 0;
  std::int64_t failed = 0;
  std::int64_t changed_while_read = 0;  // left for a later pass (the watcher retries)
  std::int64_t blocked_deletes = 0;
  std::string guard_reason;
  std::uint64_t bytes = 0;
  double seconds = 0;
  /* False when the answer came from the index alone (identical, excluded, nothing to delete):
   * such a success says nothing about whether the remote is reachable. */
  bool reached_remote = false;
};

class Pusher {
 public:
  Pusher(Remote& remote, const Filter& filter, PushOptions opts, Clock& clock);

  // Lists the remote (refreshing the index), scans the folder and applies the plan. Errors that
  // stop the pass (listing failed, unreadable folder) are returned; per-file failures are
  // counted. The guard's verdict is in the stats. Thread-compatible: one pass at a time.
  Result<PushStats> Reconcile();

  // Lists the remote (refreshing the index), scans the folder and plans, changing nothing.
  // Files whose attributes need a HEAD to compare are in plan.verify.
  Result<PushPlan> Plan();

  // Plan() with every verify entry resolved by a Stat (read-only): each ends up in uploads or
  // identical. For `cfgsync status`.
  Result<PushPlan> PlanReadOnly();

  // Pushes one file after a change: uploads it unless the index shows the same content and
  // attributes (then no request at all). Excluded paths cost nothing. kNotFound when the file
  // no longer exists (the caller batches it for RemovePaths); kChanged when it changed while
  // being read (push it again later). Thread-safe.
  Result<PushStats> PushPath(const std::string& rel);

  // Deletes from the backup every indexed key equal to one of `rels` or under it as a folder,
  // except paths that exist locally again. Subject to the guard: nothing is deleted when the
  // local folder is missing or holds no file, or when the batch, counted with the deletions of
  // the last opts.guard_window and those under way in other threads, exceeds --max-delete (the
  // stats say so). Keys never uploaded cost no request. Thread-safe.
  Result<PushStats> RemovePaths(const std::vector<std::string>& rels);

  // Number of objects the index knows.
  std::size_t IndexSize() const;

  // Logs a warning that `rel` is skipped and why (a symlink, a socket...), the first time only:
  // full scans and watch events find the same entry again and again. Thread-safe.
  void WarnSkipped(const std::string& rel, std::string_view why);

 private:
  Result<std::uint64_t> Upload(const std::string& rel);
  Status Verify(const std::string& rel, PushStats& stats);
  Status ApplyPlan(const PushPlan& plan, PushStats& stats);

  Remote& remote_;
  const Filter& filter_;
  PushOptions opts_;
  Clock& clock_;
  // Deletions of the last guard_window still counted by the guard; drops the older ones.
  std::int64_t RecentDeletions(MonoTime now);

  mutable std::mutex mu_;  // guards everything below
  RemoteIndex index_;
  std::set<std::string, std::less<>> warned_;
  std::deque<std::pair<MonoTime, std::int64_t>> recent_;  // (when, objects deleted)
  std::int64_t deleting_ = 0;                             // objects being deleted right now
};

// Prints a plan on stdout, one "upload|check|delete KEY" line each, and the blocked deletions.
void PrintPlan(const PushPlan& plan);

// The one summary line of a pass ("uploaded 3 (2.1 KiB), deleted 1, identical 40, ...").
std::string SummaryLine(const PushStats& stats);

}  // namespace cfgsync

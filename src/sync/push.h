// The push side (local folder → backup): one reconcile pass, and single-path pushes for the
// watcher, sharing an in-memory index of the remote so that unchanged files cost no request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

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
  // local folder is missing or holds no file, or when the batch exceeds --max-delete (the stats
  // say so). Keys never uploaded cost no request. Thread-safe.
  Result<PushStats> RemovePaths(const std::vector<std::string>& rels);

  // Number of objects the index knows.
  std::size_t IndexSize() const;

 private:
  Result<std::uint64_t> Upload(const std::string& rel);
  Status Verify(const std::string& rel, PushStats& stats);
  Status ApplyPlan(const PushPlan& plan, PushStats& stats);

  Remote& remote_;
  const Filter& filter_;
  PushOptions opts_;
  Clock& clock_;
  mutable std::mutex mu_;  // guards index_
  RemoteIndex index_;
};

// Prints a plan on stdout, one "upload|check|delete KEY" line each, and the blocked deletions.
void PrintPlan(const PushPlan& plan);

// The one summary line of a pass ("uploaded 3 (2.1 KiB), deleted 1, identical 40, ...").
std::string SummaryLine(const PushStats& stats);

}  // namespace cfgsync

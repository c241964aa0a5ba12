// The push side (local folder → backup): one reconcile pass, and single-path pushes for the
// watcher, sharing an in-memory index of the remote so that unchanged files cost no request.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <utility>

#include "core/clock.h"
#include "core/fs.h"
#include "remote/remote.h"
#include "sync/filter.h"
#include "sync/gaps.h"
#include "sync/push_plan.h"
#include "sync/push_plan_index.h"
#include "sync/push_plan_merge.h"

namespace cfgsync {

struct PushOptions {
  std::filesystem::path dir;
  DeleteGuard guard;
  int transfers = 16;
  bool dry_run = false;
  // RemovePaths' guard counts the deletions made this long before together with its batch.
  Millis guard_window{60'000};
  // Written into the marker file after a reconcile that stored everything ("" writes none).
  std::string marker_id{};
};

struct PushStats {
  std::int64_t uploaded = 0;
  std::int64_t deleted = 0;
  std::int64_t identical = 0;
  std::int64_t failed = 0;              // the remote refused or failed (or, after such a
                                        // failure, the upload was not tried)
  std::int64_t unprotected = 0;         // local files that cannot be backed up (Gaps)
  std::int64_t changed_while_read = 0;  // left for a later pass (the watcher retries)
  std::int64_t blocked_deletes = 0;
  std::string guard_reason;
  std::uint64_t bytes = 0;
  double seconds = 0;
  /* False when the answer came from the index alone (identical, excluded, nothing to delete):
   * such a success says nothing about whether the remote is reachable. */
  bool reached_remote = false;
  // The first error the remote answered to an upload or delete of this pass: the pass failed
  // even though the listing worked (a bucket policy without s3:PutObject, a full quota).
  std::optional<Error> remote_error;
};

class Pusher {
 public:
  Pusher(Remote& remote, const Filter& filter, PushOptions opts, Clock& clock);

  // Lists the remote (refreshing the index), scans the folder and applies the plan. Errors that
  // stop the pass (listing failed, unreadable root) are returned; per-file failures are
  // counted, files that cannot be read are recorded in gaps(), and the first remote failure
  // stops further uploads (stats.remote_error). The guard's verdict is in the stats. `probe`
  // (the remote was failing): the first upload goes alone, the rest only if it succeeds.
  // Writes the marker after a pass the remote accepted. Thread-compatible: one pass at a time.
  Result<PushStats> Reconcile(bool probe = false);

  // Lists the remote (refreshing the index), scans the folder and plans, changing nothing.
  // Files whose attributes need a HEAD to compare are in plan.verify.
  Result<PushPlan> Plan();

  // Plan() with every verify entry resolved by a Stat (read-only): each ends up in uploads or
  // identical. For `cfgsync status`: the listing is compared a page at a time and only the
  // entries of local files are kept (the index is left as it was), so memory grows with the
  // local tree, not with the backup; at most 10,000 deletions are named (unnamed_deletes
  // counts the others).
  Result<PushPlan> PlanReadOnly();

  // Pushes one file after a change: uploads it unless the index shows the same content and
  // attributes (then no request at all). Excluded paths cost nothing. kNotFound when the file
  // no longer exists (the caller batches it for RemovePaths); kChanged when it changed while
  // being read (push it again later); kUnreadable when it cannot be read (retry later) and
  // kInvalidArgument when it is no regular file or its name cannot be stored (wait for the next
  // event): both are recorded in gaps(). Thread-safe.
  Result<PushStats> PushPath(const std::string& rel);

  // Deletes from the backup every indexed key equal to one of `rels` or under it as a folder,
  // except paths that exist locally again. Subject to the guard: nothing is deleted when the
  // local folder is missing or holds no file, or when the batch, counted with the deletions of
  // the last opts.guard_window and those under way in other threads, exceeds --max-delete (the
  // stats say so). Keys never uploaded cost no request. `observed`: the removals were seen one
  // by one as they happened (inotify, same root), so --max-delete does not apply; the folder
  // being missing or empty still holds them. Thread-safe.
  Result<PushStats> RemovePaths(const std::vector<std::string>& rels, bool observed = false);

  // The local files that are not in the backup as they are now, judged against the index
  // without any request (content, mode, owner and mtime as last stored or listed), followed by
  // the unprotected paths; at most `limit` names, with the total in `count`. For the shutdown
  // message: empty means every file is in the backup.
  Result<std::vector<std::string>> Unconfirmed(std::size_t limit, std::size_t* count);

  // From now on, every deletion a reconcile infers is held back (the guard reports `why`):
  // after --dir was replaced, files missing from the new folder were never seen deleted.
  // `cfgsync sync --allow-deletions` (another process) applies them. Thread-safe.
  void HoldInferredDeletions(std::string why);

  // Makes a reconcile under way start no further upload (the rest counts as failed), for a
  // shutdown that must not wait for a whole pass. Uploads under way are stopped too (their
  // remote calls end with kCancelled). Thread-safe.
  void Cancel() {
    cancelled_ = true;
    stop_.request_stop();
  }

  // What cannot be backed up now. Thread-safe.
  const Gaps& gaps() const { return gaps_; }

  // Number of objects the index knows.
  std::size_t IndexSize() const;

  // Records that `rel` is a symlink or special file (the watcher saw it replace a file).
  void ReportSkipped(const std::string& rel, std::string_view why);

 private:
  struct Scanned;  // a plan with the tree's gaps
  Result<PushPlan> PlanStreamed();
  // Aborts stale multipart uploads (Remote::AbortStaleUploads); a failure is only logged.
  void AbortStaleUploads();
  Result<Scanned> PlanWithGaps();
  // Opens `rel` for reading (not following a symlink); the failure is a gap in `gap` when the
  // file is at fault.
  Result<UniqueFd> CheckReadable(const std::string& rel, std::optional<Gap>& gap);
  Result<std::uint64_t> Upload(const std::string& rel, std::optional<Gap>& gap);
  Status Verify(const std::string& rel, PushStats& stats, std::optional<Gap>& gap);
  // The MD5 the index stores for `rel` when its size and attributes are those of `f`.
  std::optional<std::string> StoredMd5If(const std::string& rel, const LocalFile& f) const;
  Status ApplyPlan(const PushPlan& plan, PushStats& stats, std::vector<Gap>& gaps, bool probe);

  Remote& remote_;
  const Filter& filter_;
  PushOptions opts_;
  Clock& clock_;
  // Deletions of the last guard_window still counted by the guard; drops the older ones.
  std::int64_t RecentDeletions(MonoTime now);

  mutable std::mutex mu_;  // guards everything below
  StoredIndex index_;
  Gaps gaps_;
  std::string hold_inferred_;  // why every inferred deletion is held, "" when none is
  std::deque<std::pair<MonoTime, std::int64_t>> recent_;  // (when, objects deleted)
  std::int64_t deleting_ = 0;                             // objects being deleted right now
  /* While a reconcile merges the listing into the index, the keys that pushes store or delete:
   * the pages, listed earlier, must not overwrite them with what was stored before. */
  bool merging_ = false;
  KeySet written_while_merging_;
  // Records under mu_ that a push has stored or deleted `key`.
  void NoteWritten(const std::string& key);
  std::atomic<bool> cancelled_{false};
  std::stop_source stop_;  // requested by Cancel; its token goes with every upload
};

// Prints a plan on stdout, one "upload|check|delete KEY" line each, and the blocked deletions.
void PrintPlan(const PushPlan& plan);

// The one summary line of a pass ("uploaded 3 (2.1 KiB), deleted 1, identical 40, ...").
std::string SummaryLine(const PushStats& stats);

}  // namespace cfgsync

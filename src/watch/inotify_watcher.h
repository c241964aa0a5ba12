// Linux inotify watcher for the synced folder: turns kernel events into per-path change hints
// for the watch loop, keeping one watch per folder the filter may include.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "sync/filter.h"

namespace cfgsync {

struct FsEvent {
  enum class Kind {
    kChanged,  // the file at rel was written, replaced or had its attributes changed
    kRemoved,  // rel (a file, or a folder with everything under it) is gone from the tree
    kRescan,   // events may have been missed: compare the whole tree
  };
  Kind kind;
  std::string rel;     // '/'-separated, relative to the root; "" for kRescan
  std::string detail;  // kRescan: why; kRemoved of a symlink or special file: why it is skipped
  bool operator==(const FsEvent&) const = default;
};

// Watches a folder tree with inotify. Events are hints: the caller stats the path (and checks
// its remote index) before acting, since the file may have changed again since.
//
// Caveats inherent to inotify: a file written through a descriptor that stays open (or through
// mmap) reports nothing until it is closed, and a hard link or mknod reports nothing; only a
// rescan finds those. Not thread-safe.
class InotifyWatcher {
 public:
  // Watches `root` and every folder below it that the filter may include, without following
  // symlinks. Missing root: kNotFound; inotify_init or watching the root failing: kIo. Problems
  // with folders below the root (out of watches, permissions) do not fail Open: they are
  // reported as a kRescan by the first ReadEvents(), which the caller should make once right
  // after Open (before waiting on fd()).
  static Result<std::unique_ptr<InotifyWatcher>> Open(const std::filesystem::path& root,
                                                      const Filter& filter);

  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;
  ~InotifyWatcher();

  // The inotify descriptor (non-blocking, close-on-exec), to poll for readability.
  int fd() const { return fd_.get(); }

  // Reads every queued kernel event without blocking and translates them, in order:
  //  - a file the filter includes closed after writing, moved in or renamed to, or chmod'ed
  //    or chown'ed: kChanged; deleted or moved away: kRemoved (renames give both);
  //  - a new folder (created or moved in): it and its subfolders are watched, then scanned,
  //    and every included regular file in it is kChanged, so that files written before the
  //    watch existed are not missed;
  //  - a folder deleted or moved away: kRemoved for the folder's path (meaning everything
  //    under it) and its watches are dropped; a folder renamed within the tree (IN_MOVED_FROM
  //    and IN_MOVED_TO paired by cookie) keeps its watches under the new name, and its files
  //    are kChanged there;
  //  - a kernel queue overflow: kRescan, after the watches have been brought back in line
  //    with the tree;
  //  - no watch left for a new folder (ENOSPC): kRescan naming fs.inotify.max_user_watches;
  //    the rest keeps being watched;
  //  - the root itself removed or moved: kRescan; nothing further is reported (reopen).
  // Our temporary files and excluded paths yield nothing. A symlink or special file created or
  // renamed to an included name is kRemoved (the name no longer holds a file to back up) with
  // the reason it is skipped in `detail`. A read failure other than EAGAIN/EINTR is a kRescan.
  std::vector<FsEvent> ReadEvents();

  // Number of folders currently watched (the root included).
  std::size_t WatchedDirs() const { return rel_by_wd_.size(); }

  // False while some folder the filter may include is not watched (out of watches, permission
  // denied, root lost): changes there are only found by scans. A queue overflow re-checks.
  bool Complete() const { return complete_; }

  // Number of folders the filter may include that have no watch (out of watches, permission).
  std::size_t UnwatchedDirs() const { return unwatched_.size(); }

  // True once the root was removed, moved away or unmounted: the watcher is spent; open a new
  // one on the path (it may hold another folder by now).
  bool RootLost() const { return root_lost_; }

  // Tries again to watch the folders that have no watch. A folder watched now is scanned and
  // its files reported kChanged (they may have changed unseen); for a folder still without a
  // watch, its files are reported kChanged all the same, so that polling finds what inotify
  // cannot. Changes nothing when every folder is watched.
  std::vector<FsEvent> RetryUnwatched();

  // Test hook: behave as if the kernel had only `n` more watches to give (ENOSPC after that).
  void LimitWatchesForTest(std::size_t n) { watch_budget_ = n; }
  // Test hook: give `n` more watches (as raising fs.inotify.max_user_watches would).
  void AddWatchesForTest(std::size_t n) {
    if (watch_budget_) *watch_budget_ += n;
  }

 private:
  struct Walk;  // state of one AddTree/Resync pass

  InotifyWatcher(UniqueFd fd, std::filesystem::path root, const Filter& filter);

  // Dispatches one kernel event.
  void Handle(int wd, std::uint32_t mask, std::uint32_t cookie, std::string_view name,
              std::vector<FsEvent>& out);
  // Handles an event about the watched folder itself (no name).
  void HandleSelf(int wd, std::uint32_t mask, std::vector<FsEvent>& out);
  // Handles an event about the folder entry `rel`.
  void HandleDir(std::uint32_t mask, std::uint32_t cookie, const std::string& rel,
                 std::vector<FsEvent>& out);
  // Handles an event about a non-folder entry `rel`.
  void HandleFile(std::uint32_t mask, const std::string& rel, std::vector<FsEvent>& out);
  // Watches folder `rel`; returns the watch descriptor or -1 with errno set.
  int AddWatch(const std::string& rel);
  // Watches and scans the folder `rel` and everything below it the filter may include.
  void AddTree(const std::string& rel, Walk& walk);
  // Scans the folder `rel` (emitting its files if the walk asks) and calls AddTree for each
  // subfolder the filter may include.
  void WalkDir(const std::string& rel, Walk& walk);
  // Records that folder `rel` could not be watched (errno `err`), once per walk.
  void ReportUnwatched(const std::string& rel, int err, Walk& walk);
  // Drops the watches of folder `rel` and of every folder below it.
  void DropTree(const std::string& rel);
  // Re-labels the watches of folder `from` and everything below it as `to` (a rename within
  // the tree keeps its watches: the kernel follows the inodes).
  void RenameTree(const std::string& from, const std::string& to);
  // Drops every watch (the root is gone).
  void LoseRoot(const std::string& why, std::vector<FsEvent>& out);
  // Re-walks the whole tree after events were lost, re-adding missing watches and dropping the
  // watches of folders that no longer exist.
  void Resync(std::vector<FsEvent>& out);

  UniqueFd fd_;
  std::filesystem::path root_;
  Filter filter_;
  std::unordered_map<int, std::string> rel_by_wd_;
  std::map<std::string, int> wd_by_rel_;  // ordered, so a subtree is a contiguous range
  bool complete_ = true;
  bool root_lost_ = false;
  std::set<std::string> unwatched_;  // folders that could not be watched, for RetryUnwatched
  std::optional<std::size_t> watch_budget_;
  std::vector<FsEvent> pending_;  // found by Open, returned by the first ReadEvents
  // Folders moved away during the current ReadEvents, by cookie, until their IN_MOVED_TO
  // pairs them with their new name; those left unpaired moved out of the tree.
  std::map<std::uint32_t, std::string> moved_from_;
};

}  // namespace cfgsync

// Group commit for restored files: one filesystem flush makes a whole group of finished
// temporary files durable before they are renamed into place.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fs.h"

namespace cfgsync {

// A temporary file whose content and attributes are written, waiting to be made durable and
// renamed over `name` inside the folder `dir`.
struct PendingFile {
  std::shared_ptr<const UniqueFd> dir;
  std::string tmp;
  std::string name;
  std::string rel;  // the target's path below the restored folder, for messages and bookkeeping
  std::uint64_t bytes = 0;
};

/* An fsync per file is one synchronous write of its inode (a journal commit on ext4) each:
 * restoring 2,000 small files on a 2-core VM spent about a second in them, as long as a third
 * of the downloads. One syncfs after a group of files gives each file the same guarantee (its
 * content and attributes are on disk before a rename makes its name visible) for the price of
 * one flush. Files that finish while a flush runs form the next group, so groups grow with the
 * load and a lone file still waits for one flush only. */
class GroupCommit {
 public:
  // Makes everything written on the filesystem before the call durable (syncfs in production).
  using Flush = std::function<Status()>;
  // Receives each submitted file exactly once, after a Flush that began after its Submit, with
  // that flush's status. Runs on the committer thread, one file at a time.
  using Done = std::function<void(const PendingFile&, const Status&)>;

  // Starts the committer thread. At most `max_pending` files wait (each holds its folder open);
  // Submit blocks beyond that.
  GroupCommit(Flush flush, Done done, std::size_t max_pending = 128);
  // Hands every submitted file to `done`, then stops the thread.
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues a file for the next flush. Thread-safe.
  void Submit(PendingFile file);
  // Returns once every file submitted before the call has been handed to `done`.
  void Drain();

 private:
  void Loop();

  Flush flush_;
  Done done_;
  std::size_t max_pending_;
  std::mutex mu_;
  std::condition_variable wake_;   // the committer: work queued, or stopping
  std::condition_variable space_;  // submitters: the queue has room
  std::condition_variable idle_;   // Drain: a group finished
  std::vector<PendingFile> queue_;
  std::size_t in_flight_ = 0;  // files taken by the committer and not yet handed to `done`
  bool stop_ = false;
  std::jthread thread_;
};

// Whether one syncfs on the filesystem holding `fd` makes the data and inodes of all its files
// durable: the local disk filesystems (ext2/3/4, XFS, Btrfs, F2FS), overlayfs (it flushes its
// upper layer) and tmpfs (nothing to flush). False elsewhere (NFS, CIFS, FUSE, ...), where
// restore fsyncs each file instead.
bool SyncfsCoversFiles(int fd);

// syncfs(fd) as a Status: kIo naming `what` and the errno, including write-back errors (EIO,
// ENOSPC) that the kernel reports for the filesystem since `fd` was opened.
Status SyncFilesystem(int fd, const std::string& what);

}  // namespace cfgsync

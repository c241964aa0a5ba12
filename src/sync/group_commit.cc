#include "sync/group_commit.h"

#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace cfgsync {

GroupCommit::GroupCommit(Flush flush, Done done, std::size_t max_pending)
    : flush_(std::move(flush)),
      done_(std::move(done)),
      max_pending_(std::max<std::size_t>(1, max_pending)),
      thread_([this] { Loop(); }) {}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void GroupCommit::Submit(PendingFile file) {
  std::unique_lock lock(mu_);
  space_.wait(lock, [&] { return queue_.size() < max_pending_; });
  queue_.push_back(std::move(file));
  lock.unlock();
  wake_.notify_one();
}

void GroupCommit::Drain() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return queue_.empty() && in_flight_ == 0; });
}

void GroupCommit::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything was handed over
    std::vector<PendingFile> group;
    group.swap(queue_);
    in_flight_ = group.size();
    lock.unlock();
    space_.notify_all();
    // Every file of the group was submitted, hence written, before this flush begins.
    Status flushed = flush_();
    for (const PendingFile& f : group) done_(f, flushed);
    lock.lock();
    in_flight_ = 0;
    idle_.notify_all();
  }
}

bool SyncfsCoversFiles(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
    case OVERLAYFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
      return true;
    default:
      return false;
  }
}

Status SyncFilesystem(int fd, const std::string& what) {
  if (::syncfs(fd) != 0) return Fail(ErrorKind::kIo, what + ": " + std::strerror(errno));
  return {};
}

}  // namespace cfgsync

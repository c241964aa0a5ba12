#include "watch/inotify_watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>
#include <utility>

namespace cfgsync {
namespace {

/* IN_EXCL_UNLINK drops events for children already unlinked (say, a temp file still being
 * written after its removal). Below the root, IN_DONT_FOLLOW and IN_ONLYDIR make sure that a
 * folder swapped for a symlink between the event and the watch is not followed. The root
 * itself is followed, as the tree scan follows it. */
constexpr std::uint32_t kRootMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB |
                                    IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
                                    IN_EXCL_UNLINK | IN_ONLYDIR;
constexpr std::uint32_t kSubdirMask = kRootMask | IN_DONT_FOLLOW;

std::string Join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

std::string Show(const std::string& rel) { return rel.empty() ? "." : rel; }

FsEvent Rescan(std::string detail) {
  return FsEvent{FsEvent::Kind::kRescan, "", std::move(detail)};
}

// The current fs.inotify.max_user_watches, or "?" when it cannot be read.
std::string MaxUserWatches() {
  std::ifstream in("/proc/sys/fs/inotify/max_user_watches");
  std::string value;
  return (in >> value) ? value : "?";
}

bool IsGoneErrno(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

}  // namespace

struct InotifyWatcher::Walk {
  bool emit_files;  // kChanged for every included file found
  std::vector<FsEvent>& out;
  std::unordered_set<int>* seen = nullptr;  // watch descriptors met, for Resync
  bool reported = false;                    // an unwatched folder was already reported
};

InotifyWatcher::InotifyWatcher(UniqueFd fd, std::filesystem::path root, const Filter& filter)
    : fd_(std::move(fd)), root_(std::move(root)), filter_(filter) {}

InotifyWatcher::~InotifyWatcher() = default;

Result<std::unique_ptr<InotifyWatcher>> InotifyWatcher::Open(const std::filesystem::path& root,
                                                             const Filter& filter) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) {
    const int err = errno;
    const char* hint = err == EMFILE ? " (raise fs.inotify.max_user_instances)" : "";
    return Fail(ErrorKind::kIo, std::string("inotify_init1: ") + std::strerror(err) + hint);
  }
  std::unique_ptr<InotifyWatcher> w(new InotifyWatcher(std::move(fd), root, filter));
  if (w->AddWatch("") < 0) {
    if (errno != ENOSPC) return std::unexpected(ErrnoError("watch", root));
    return Fail(ErrorKind::kIo, "watch " + root.string() + ": out of inotify watches (raise " +
                                    "fs.inotify.max_user_watches, now " + MaxUserWatches() + ")");
  }
  Walk walk{false, w->pending_};
  w->WalkDir("", walk);
  return w;
}

int InotifyWatcher::AddWatch(const std::string& rel) {
  const bool known = wd_by_rel_.contains(rel);
  if (!known && watch_budget_ && *watch_budget_ == 0) {
    errno = ENOSPC;
    return -1;
  }
  const std::filesystem::path path = rel.empty() ? root_ : root_ / rel;
  const int wd =
      ::inotify_add_watch(fd_.get(), path.c_str(), rel.empty() ? kRootMask : kSubdirMask);
  if (wd < 0) return -1;
  if (auto old = rel_by_wd_.find(wd); old == rel_by_wd_.end()) {
    if (watch_budget_) --*watch_budget_;
  } else if (old->second != rel) {
    wd_by_rel_.erase(old->second);  // the same folder, seen under a new name
  }
  if (auto prev = wd_by_rel_.find(rel); prev != wd_by_rel_.end() && prev->second != wd) {
    ::inotify_rm_watch(fd_.get(), prev->second);  // the name now holds another folder
    rel_by_wd_.erase(prev->second);
  }
  rel_by_wd_[wd] = rel;
  wd_by_rel_[rel] = wd;
  return wd;
}

void InotifyWatcher::ReportUnwatched(const std::string& rel, int err, Walk& walk) {
  complete_ = false;
  unwatched_.insert(rel);
  if (walk.reported) return;
  walk.reported = true;
  if (err == ENOSPC) {
    walk.out.push_back(Rescan("out of inotify watches while watching folder " + Show(rel) +
                              ": raise fs.inotify.max_user_watches (now " + MaxUserWatches() +
                              "); changes in unwatched folders are only found by rescans"));
  } else {
    walk.out.push_back(Rescan("cannot watch folder " + Show(rel) + ": " + std::strerror(err)));
  }
}

void InotifyWatcher::AddTree(const std::string& rel, Walk& walk) {
  if (const int wd = AddWatch(rel); wd >= 0) {
    if (walk.seen) walk.seen->insert(wd);
    unwatched_.erase(rel);
  } else if (IsGoneErrno(errno)) {
    return;  // removed or replaced meanwhile: the events for that tell the rest
  } else {
    ReportUnwatched(rel, errno, walk);
  }
  WalkDir(rel, walk);
}

void InotifyWatcher::WalkDir(const std::string& rel, Walk& walk) {
  const std::filesystem::path path = rel.empty() ? root_ : root_ / rel;
  const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (rel.empty() ? 0 : O_NOFOLLOW);
  const int dfd = ::open(path.c_str(), flags);
  if (dfd < 0) {
    if (!IsGoneErrno(errno)) ReportUnwatched(rel, errno, walk);
    return;
  }
  DIR* dir = ::fdopendir(dfd);
  if (!dir) {
    ::close(dfd);
    ReportUnwatched(rel, errno, walk);
    return;
  }
  std::vector<std::string> subdirs;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == ".." || IsInternalName(name)) continue;
    std::string child = Join(rel, name);
    struct stat st;
    if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    if (S_ISDIR(st.st_mode)) {
      if (filter_.MayIncludeDir(child)) subdirs.push_back(std::move(child));
    } else if (walk.emit_files && S_ISREG(st.st_mode) && filter_.IncludesFile(child)) {
      walk.out.push_back(FsEvent{FsEvent::Kind::kChanged, std::move(child), ""});
    }
  }
  ::closedir(dir);
  for (const auto& sub : subdirs) AddTree(sub, walk);
}

std::vector<FsEvent> InotifyWatcher::RetryUnwatched() {
  std::vector<FsEvent> out;
  if (root_lost_ || unwatched_.empty()) return out;
  const std::set<std::string> missing = std::exchange(unwatched_, {});
  Walk walk{true, out};
  walk.reported = true;  // said when they were first lost: no new kRescan per retry
  for (const auto& rel : missing) {
    if (unwatched_.contains(rel)) continue;  // met again below a parent retried before it
    AddTree(rel, walk);
  }
  complete_ = unwatched_.empty();
  return out;
}

void InotifyWatcher::DropTree(const std::string& rel) {
  auto drop = [this](std::map<std::string, int>::iterator it) {
    ::inotify_rm_watch(fd_.get(), it->second);  // fails harmlessly if the kernel dropped it
    rel_by_wd_.erase(it->second);
    return wd_by_rel_.erase(it);
  };
  if (rel.empty()) {
    for (auto it = wd_by_rel_.begin(); it != wd_by_rel_.end();) it = drop(it);
    return;
  }
  if (auto it = wd_by_rel_.find(rel); it != wd_by_rel_.end()) drop(it);
  /* Only names starting with "rel/" are contiguous in byte order ("a-b" sorts between "a"
   * and "a/b"), hence the separate lookup of `rel` itself above. */
  const std::string prefix = rel + "/";
  for (auto it = wd_by_rel_.lower_bound(prefix);
       it != wd_by_rel_.end() && it->first.starts_with(prefix);) {
    it = drop(it);
  }
}

void InotifyWatcher::RenameTree(const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, int>> moved;
  if (auto it = wd_by_rel_.find(from); it != wd_by_rel_.end()) {
    moved.emplace_back(to, it->second);
    wd_by_rel_.erase(it);
  }
  const std::string prefix = from + "/";
  for (auto it = wd_by_rel_.lower_bound(prefix);
       it != wd_by_rel_.end() && it->first.starts_with(prefix);) {
    moved.emplace_back(to + it->first.substr(from.size()), it->second);
    it = wd_by_rel_.erase(it);
  }
  for (auto& [rel, wd] : moved) {
    rel_by_wd_[wd] = rel;
    wd_by_rel_[rel] = wd;
  }
}

void InotifyWatcher::LoseRoot(const std::string& why, std::vector<FsEvent>& out) {
  if (root_lost_) return;
  root_lost_ = true;
  complete_ = false;
  DropTree("");
  out.push_back(Rescan("watched folder " + root_.string() + " " + why +
                       "; nothing below it is watched any more (reopen the watcher)"));
}

void InotifyWatcher::Resync(std::vector<FsEvent>& out) {
  complete_ = true;
  unwatched_.clear();
  std::unordered_set<int> seen;
  Walk walk{false, out, &seen};
  AddTree("", walk);
  if (!wd_by_rel_.contains("")) {
    LoseRoot("was removed", out);
    return;
  }
  for (auto it = rel_by_wd_.begin(); it != rel_by_wd_.end();) {
    if (seen.contains(it->first)) {
      ++it;
      continue;
    }
    ::inotify_rm_watch(fd_.get(), it->first);
    wd_by_rel_.erase(it->second);
    it = rel_by_wd_.erase(it);
  }
}

std::vector<FsEvent> InotifyWatcher::ReadEvents() {
  std::vector<FsEvent> out = std::exchange(pending_, {});
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      if (n < 0) out.push_back(Rescan(std::string("read inotify events: ") + std::strerror(errno)));
      break;
    }
    for (const char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      const std::string_view name(ev->name, ev->len ? ::strnlen(ev->name, ev->len) : 0);
      Handle(ev->wd, ev->mask, ev->cookie, name, out);
      p += sizeof(inotify_event) + ev->len;
    }
  }
  for (const auto& [cookie, rel] : moved_from_) DropTree(rel);  // moved out of the tree
  moved_from_.clear();
  return out;
}

void InotifyWatcher::Handle(int wd, std::uint32_t mask, std::uint32_t cookie, std::string_view name,
                            std::vector<FsEvent>& out) {
  if (root_lost_) return;
  if (mask & IN_Q_OVERFLOW) {
    out.push_back(
        Rescan("inotify queue overflow: events were lost (raise "
               "fs.inotify.max_queued_events if this recurs)"));
    Resync(out);
    return;
  }
  const auto it = rel_by_wd_.find(wd);
  if (it == rel_by_wd_.end()) return;  // a folder whose watch was dropped already
  if (name.empty()) {
    HandleSelf(wd, mask, out);
    return;
  }
  if (IsInternalName(name)) return;
  const std::string rel = Join(it->second, name);
  if (mask & IN_ISDIR) {
    HandleDir(mask, cookie, rel, out);
  } else {
    HandleFile(mask, rel, out);
  }
}

void InotifyWatcher::HandleSelf(int wd, std::uint32_t mask, std::vector<FsEvent>& out) {
  const std::string rel = rel_by_wd_.at(wd);
  if (rel.empty()) {
    if (mask & (IN_DELETE_SELF | IN_IGNORED | IN_UNMOUNT)) LoseRoot("was removed", out);
    if (mask & IN_MOVE_SELF) LoseRoot("was moved away", out);
    return;
  }
  /* Below the root, the parent's IN_DELETE / IN_MOVED_FROM reports the folder; only the
   * kernel dropping the watch (IN_IGNORED, after deletion or unmount) needs bookkeeping. */
  if (mask & IN_IGNORED) {
    rel_by_wd_.erase(wd);
    wd_by_rel_.erase(rel);
  }
}

void InotifyWatcher::HandleDir(std::uint32_t mask, std::uint32_t cookie, const std::string& rel,
                               std::vector<FsEvent>& out) {
  if (!filter_.MayIncludeDir(rel)) return;
  if (mask & (IN_CREATE | IN_MOVED_TO)) {
    if (auto from = moved_from_.find(cookie); (mask & IN_MOVED_TO) && from != moved_from_.end()) {
      RenameTree(from->second, rel);
      moved_from_.erase(from);
    }
    /* Scanned in both cases: every file now has a new path (a new key in the backup), and a
     * folder created or moved in may hold files written before its watch existed. */
    Walk walk{true, out};
    AddTree(rel, walk);
  } else if (mask & (IN_DELETE | IN_MOVED_FROM)) {
    out.push_back(FsEvent{FsEvent::Kind::kRemoved, rel, ""});
    if ((mask & IN_MOVED_FROM) && cookie != 0) {
      moved_from_[cookie] = rel;  // dropped at the end of ReadEvents unless paired
    } else {
      DropTree(rel);
    }
  }
}

void InotifyWatcher::HandleFile(std::uint32_t mask, const std::string& rel,
                                std::vector<FsEvent>& out) {
  if (!filter_.IncludesFile(rel)) return;
  if (mask & (IN_DELETE | IN_MOVED_FROM)) {
    out.push_back(FsEvent{FsEvent::Kind::kRemoved, rel, ""});
    return;
  }
  struct stat st;
  if (::lstat((root_ / rel).c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    /* A symlink or special file created or renamed over the name replaces what was backed up
     * (a scan would not list it either); the detail says why it is skipped. */
    if (mask & (IN_CREATE | IN_MOVED_TO)) {
      const char* why = S_ISLNK(st.st_mode) ? "symlink (not followed)" : "not a regular file";
      out.push_back(FsEvent{FsEvent::Kind::kRemoved, rel, why});
    }
    return;
  }
  if (!(mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB))) return;  // IN_CREATE of a file
  out.push_back(FsEvent{FsEvent::Kind::kChanged, rel, ""});
}

}  // namespace cfgsync

#include "sync/local_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace cfgsync {
struct TreeStream::Item {
  std::string order;  // the rel, with a '/' after a folder's: the key order of what it holds
  bool dir = false;
  LocalFile file;  // file.rel is the rel, for folders too
};

struct TreeStream::Frame {
  struct CloseDir {
    void operator()(DIR* d) const { ::closedir(d); }
  };
  std::unique_ptr<DIR, CloseDir> dir;
  std::string prefix;
  std::vector<Item> items;  // sorted by `order`
  std::size_t next = 0;
};

TreeStream::TreeStream(std::filesystem::path root, const Filter& filter)
    : root_(std::move(root)), filter_(&filter) {}

TreeStream::~TreeStream() = default;

Status TreeStream::Start() {
  int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    return Fail(ErrorKind::kIo, "open folder " + root_.string() + ": " + std::strerror(errno));
  }
  root_exists_ = true;
  return Enter(fd, "");
}

void TreeStream::UnreadableDir(const std::string& rel, int err) {
  gaps_.push_back(Gap{rel + "/", GapReasonForErrno(err), std::strerror(err)});
  unreadable_dirs_.push_back(rel);
}

// Sorts one entry of a folder into files, subfolders or gaps.
void TreeStream::Sort(int dfd, const char* c_name, std::string rel, std::vector<Item>& items) {
  struct stat st;
  if (::fstatat(dfd, c_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;  // gone meanwhile
  if (S_ISDIR(st.st_mode)) {
    if (filter_->MayIncludeDir(rel)) items.push_back(Item{rel + "/", true, LocalFile{rel, {}, {}}});
    return;
  }
  if (!filter_->IncludesFile(rel)) return;
  if (!S_ISREG(st.st_mode)) {
    bool link = S_ISLNK(st.st_mode);
    gaps_.push_back(Gap{std::move(rel), link ? GapReason::kSymlink : GapReason::kSpecial,
                        link ? "symlink (not followed)" : "not a regular file"});
  } else if (std::string bad = BadNameReason(rel); !bad.empty()) {
    gaps_.push_back(Gap{std::move(rel), GapReason::kName, std::move(bad)});
  } else {
    items.push_back(Item{rel, false, LocalFile{rel, VersionOf(st), MetaFromStat(st)}});
  }
}

// Reads folder `fd` (relative path `prefix`, "" for the root) onto the stack.
Status TreeStream::Enter(int fd, std::string prefix) {
  Frame frame;
  frame.dir.reset(::fdopendir(fd));
  if (!frame.dir) {
    ::close(fd);
    return Fail(ErrorKind::kIo,
                "read folder " + (prefix.empty() ? "." : prefix) + ": " + std::strerror(errno));
  }
  while (dirent* e = ::readdir(frame.dir.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || IsInternalName(name)) continue;
    std::string rel = prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
    Sort(::dirfd(frame.dir.get()), e->d_name, std::move(rel), frame.items);
  }
  std::sort(frame.items.begin(), frame.items.end(),
            [](const Item& a, const Item& b) { return a.order < b.order; });
  frame.prefix = std::move(prefix);
  stack_.push_back(std::move(frame));
  return {};
}

Result<LocalFile*> TreeStream::Next() {
  while (!stack_.empty()) {
    Frame& top = stack_.back();
    if (top.next == top.items.size()) {
      stack_.pop_back();
      continue;
    }
    Item& item = top.items[top.next++];
    if (!item.dir) {
      current_ = std::move(item.file);
      ++files_;
      return &current_;
    }
    std::string rel = std::move(item.file.rel);
    const char* name = rel.c_str() + (top.prefix.empty() ? 0 : top.prefix.size() + 1);
    int child =
        ::openat(::dirfd(top.dir.get()), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;  // changed meanwhile
      UnreadableDir(rel, errno);
      continue;
    }
    dirs_.push_back(rel);
    if (auto ok = Enter(child, std::move(rel)); !ok) return std::unexpected(ok.error());
  }
  return nullptr;
}

Result<LocalTree> ScanTree(const std::filesystem::path& root, const Filter& filter) {
  LocalTree tree;
  TreeStream stream(root, filter);
  if (auto ok = stream.Start(); !ok) return std::unexpected(ok.error());
  tree.root_exists = stream.root_exists();
  for (;;) {
    auto f = stream.Next();
    if (!f) return std::unexpected(f.error());
    if (!*f) break;
    tree.files.push_back(std::move(**f));
  }
  tree.dirs = stream.dirs();
  tree.gaps = stream.gaps();
  tree.unreadable_dirs = stream.unreadable_dirs();
  std::sort(tree.dirs.begin(), tree.dirs.end());
  std::sort(tree.gaps.begin(), tree.gaps.end(), [](auto& a, auto& b) { return a.rel < b.rel; });
  std::sort(tree.unreadable_dirs.begin(), tree.unreadable_dirs.end());
  return tree;
}

bool IsUnder(std::string_view rel, std::string_view dir) {
  return rel.starts_with(dir) && (rel.size() == dir.size() || rel[dir.size()] == '/');
}

std::optional<std::string> LocalMd5(const std::filesystem::path& root, const LocalFile& f) {
  auto fd = OpenForRead(root / f.rel);
  if (!fd) return std::nullopt;
  auto d = DigestRange(fd->get(), 0, f.version.size, false);
  if (!d) return std::nullopt;
  return d->md5_hex;
}

Result<LocalFile> StatLocal(const std::filesystem::path& root, const std::string& rel) {
  std::filesystem::path p = root / rel;
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0) return std::unexpected(ErrnoError("stat", p));
  if (!S_ISREG(st.st_mode))
    return Fail(ErrorKind::kInvalidArgument, p.string() + ": not a regular file");
  return LocalFile{rel, VersionOf(st), MetaFromStat(st)};
}

}  // namespace cfgsync

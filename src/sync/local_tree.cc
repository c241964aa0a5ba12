#include "sync/local_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cfgsync {
namespace {

struct Walker {
  const Filter& filter;
  LocalTree& tree;

  // Records that folder `rel` cannot be read (errno `err`).
  void UnreadableDir(const std::string& rel, int err) {
    tree.gaps.push_back(Gap{rel + "/", GapReasonForErrno(err), std::strerror(err)});
    tree.unreadable_dirs.push_back(rel);
  }

  // Sorts one entry of a folder into files, subfolders or gaps.
  void Entry(int dfd, const char* c_name, std::string rel, std::vector<std::string>& subdirs) {
    struct stat st;
    if (::fstatat(dfd, c_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;  // gone meanwhile
    if (S_ISDIR(st.st_mode)) {
      if (filter.MayIncludeDir(rel)) subdirs.push_back(std::move(rel));
      return;
    }
    if (!filter.IncludesFile(rel)) return;
    if (!S_ISREG(st.st_mode)) {
      bool link = S_ISLNK(st.st_mode);
      tree.gaps.push_back(Gap{std::move(rel), link ? GapReason::kSymlink : GapReason::kSpecial,
                              link ? "symlink (not followed)" : "not a regular file"});
    } else if (std::string bad = BadNameReason(rel); !bad.empty()) {
      tree.gaps.push_back(Gap{std::move(rel), GapReason::kName, std::move(bad)});
    } else {
      tree.files.push_back(LocalFile{rel, VersionOf(st), MetaFromStat(st)});
    }
  }

  // Reads folder `fd` (relative path `prefix`, "" for the root) and recurses into subfolders.
  Status Walk(int fd, const std::string& prefix) {
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
      ::close(fd);
      return Fail(ErrorKind::kIo, "read folder " + Show(prefix) + ": " + std::strerror(errno));
    }
    std::vector<std::string> subdirs;
    while (dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name == "." || name == ".." || IsInternalName(name)) continue;
      std::string rel = prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
      Entry(::dirfd(dir), e->d_name, std::move(rel), subdirs);
    }
    int dfd = ::dirfd(dir);
    Status result;
    for (const auto& sub : subdirs) {
      std::string name = sub.substr(prefix.empty() ? 0 : prefix.size() + 1);
      int child = ::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;  // changed meanwhile
        UnreadableDir(sub, errno);
        continue;
      }
      tree.dirs.push_back(sub);
      if (result = Walk(child, sub); !result) break;
    }
    ::closedir(dir);
    return result;
  }

  static std::string Show(const std::string& rel) { return rel.empty() ? "." : rel; }
};

}  // namespace

Result<LocalTree> ScanTree(const std::filesystem::path& root, const Filter& filter) {
  LocalTree tree;
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return tree;
    return Fail(ErrorKind::kIo, "open folder " + root.string() + ": " + std::strerror(errno));
  }
  tree.root_exists = true;
  Walker w{filter, tree};
  if (auto ok = w.Walk(fd, ""); !ok) return std::unexpected(ok.error());
  std::sort(tree.files.begin(), tree.files.end(), [](auto& a, auto& b) { return a.rel < b.rel; });
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

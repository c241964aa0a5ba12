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
  const SkipReporter& on_skip;
  LocalTree& tree;

  // Reads folder `fd` (relative path `prefix`, "" for the root) and recurses into subfolders.
  Status Walk(int fd, const std::string& prefix) {
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
      ::close(fd);
      return Fail(ErrorKind::kIo, "read folder " + Show(prefix) + ": " + std::strerror(errno));
    }
    std::vector<std::string> subdirs;
    errno = 0;
    while (dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name == "." || name == ".." || IsTempName(name)) continue;
      std::string rel = prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
      struct stat st;
      if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
      if (S_ISDIR(st.st_mode)) {
        if (filter.MayIncludeDir(rel)) subdirs.push_back(std::move(rel));
      } else if (S_ISREG(st.st_mode)) {
        if (filter.IncludesFile(rel))
          tree.files.push_back(LocalFile{rel, VersionOf(st), MetaFromStat(st)});
      } else if (filter.IncludesFile(rel)) {
        bool link = S_ISLNK(st.st_mode);
        ++(link ? tree.skipped_symlinks : tree.skipped_special);
        if (on_skip) on_skip(rel, link ? "symlink (not followed)" : "not a regular file");
      }
    }
    int dfd = ::dirfd(dir);
    Status result;
    for (const auto& sub : subdirs) {
      std::string name = sub.substr(prefix.empty() ? 0 : prefix.size() + 1);
      int child = ::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;  // changed meanwhile
        result = Fail(ErrorKind::kIo, "open folder " + Show(sub) + ": " + std::strerror(errno));
        break;
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

Result<LocalTree> ScanTree(const std::filesystem::path& root, const Filter& filter,
                           const SkipReporter& on_skip) {
  LocalTree tree;
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return tree;
    return Fail(ErrorKind::kIo, "open folder " + root.string() + ": " + std::strerror(errno));
  }
  tree.root_exists = true;
  Walker w{filter, on_skip, tree};
  if (auto ok = w.Walk(fd, ""); !ok) return std::unexpected(ok.error());
  std::sort(tree.files.begin(), tree.files.end(), [](auto& a, auto& b) { return a.rel < b.rel; });
  std::sort(tree.dirs.begin(), tree.dirs.end());
  return tree;
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

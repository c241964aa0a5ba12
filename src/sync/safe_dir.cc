#include "sync/safe_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cfgsync {

Result<UniqueFd> OpenDirBeneath(int root_fd, std::string_view rel_dir, bool create,
                                std::optional<DirOwner> owner) {
  UniqueFd cur(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur) return Fail(ErrorKind::kIo, std::string("dup: ") + std::strerror(errno));
  std::size_t start = 0;
  while (start < rel_dir.size()) {
    std::size_t end = rel_dir.find('/', start);
    if (end == std::string_view::npos) end = rel_dir.size();
    std::string name(rel_dir.substr(start, end - start));
    std::string shown(rel_dir.substr(0, end));
    int fd = ::openat(cur.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return Fail(ErrorKind::kIo, "create folder " + shown + ": " + std::strerror(errno));
      }
      fd = ::openat(cur.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0 && owner && ::fchown(fd, owner->uid, owner->gid) != 0) {
        ::close(fd);
        return Fail(ErrorKind::kIo, "chown folder " + shown + ": " + std::strerror(errno));
      }
    }
    if (fd < 0) {
      if (errno == ELOOP)
        return Fail(ErrorKind::kInvalidArgument, "path through a symlink: " + shown);
      if (errno == ENOTDIR)
        return Fail(ErrorKind::kInvalidArgument, "a file is in the way: " + shown);
      if (errno == ENOENT) return Fail(ErrorKind::kNotFound, "no folder " + shown);
      return Fail(ErrorKind::kIo, "open folder " + shown + ": " + std::strerror(errno));
    }
    cur = UniqueFd(fd);
    start = end + 1;
  }
  return cur;
}

Status CheckReplaceable(int dir_fd, const std::string& name, std::string_view rel) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return Fail(ErrorKind::kIo, "stat " + std::string(rel) + ": " + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode))
    return Fail(ErrorKind::kInvalidArgument, "a symlink is in the way: " + std::string(rel));
  if (!S_ISREG(st.st_mode))
    return Fail(ErrorKind::kInvalidArgument, "not a regular file: " + std::string(rel));
  return {};
}

}  // namespace cfgsync

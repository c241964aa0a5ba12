#include "sync/restore_meta.h"

#include <fmt/format.h>
#include <sys/stat.h>

namespace cfgsync {
namespace {

// The file type of a mode, in words.
const char* TypeName(std::uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "a folder";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    case S_IFIFO:
      return "a fifo";
    case S_IFSOCK:
      return "a socket";
    case S_IFLNK:
      return "a symlink";
    default:
      return "an unknown file type";
  }
}

void SanitizeMode(std::uint32_t& mode, std::vector<std::string>& dropped) {
  const std::string was = fmt::format("mode {:o}", mode);
  const std::uint32_t type = mode & S_IFMT;
  if (type != 0 && type != S_IFREG) {
    dropped.push_back(was + ": " + TypeName(mode) + ", restored as a regular file");
    mode = (mode & ~static_cast<std::uint32_t>(S_IFMT)) | S_IFREG;
  }
  constexpr std::pair<std::uint32_t, const char*> kBits[] = {
      {S_ISUID, "set-user-ID"}, {S_ISGID, "set-group-ID"}, {S_ISVTX, "sticky"}};
  for (const auto& [bit, name] : kBits) {
    if (mode & bit) dropped.push_back(was + ": " + name + " bit cleared");
  }
  mode &= ~static_cast<std::uint32_t>(S_ISUID | S_ISGID | S_ISVTX);
}

}  // namespace

SafeMeta SanitizeForRestore(FileMeta stored, bool allow_root_owner) {
  SafeMeta out{std::move(stored), {}};
  FileMeta& m = out.meta;
  if (m.mode) SanitizeMode(*m.mode, out.dropped);
  if (!allow_root_owner && m.uid == 0u) {
    m.uid.reset();
    out.dropped.push_back("uid 0 (root) not applied (--allow-root-owner applies it)");
  }
  if (!allow_root_owner && m.gid == 0u) {
    m.gid.reset();
    out.dropped.push_back("gid 0 (root) not applied (--allow-root-owner applies it)");
  }
  return out;
}

}  // namespace cfgsync

// A file's attributes as cfgsync keeps them: its times and the stat fields a backup restores.
#pragma once

#include <sys/stat.h>

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"

namespace cfgsync {

// A file time with nanoseconds, as stat(2) reports it.
struct FileTime {
  std::int64_t sec = 0;
  std::uint32_t nsec = 0;
  auto operator<=>(const FileTime&) const = default;
};

// The attributes stored with a file's content; a field is absent when it is unknown or not
// stored. Plain value, no invariants.
struct FileMeta {
  std::optional<FileTime> mtime;
  std::optional<std::uint32_t> mode;  // st_mode including the file-type bits (0100640)
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
  std::optional<std::string> md5_hex;  // content MD5, when the backend stored one
  bool operator==(const FileMeta&) const = default;
};

// The same instant as a system_clock time point.
WallTime ToWall(FileTime t);

// Attributes of a stat result, as they are stored (mtime, mode with type bits, uid, gid).
FileMeta MetaFromStat(const struct stat& st);

}  // namespace cfgsync

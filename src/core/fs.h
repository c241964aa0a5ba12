// Small POSIX file helpers shared by the remotes, restore and the watcher.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/file_meta.h"

namespace cfgsync {

// Temporary files are created beside their target with this name prefix, so that a crash never
// leaves a partial file under a real name and a later run can find and remove the leftovers.
inline constexpr std::string_view kTempPrefix = ".cfgsync-tmp-";
// The file in --dir that says which remote its content was last restored from or pushed to.
inline constexpr std::string_view kMarkerName = ".cfgsync-marker";

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Gives up ownership and returns the descriptor.
  int Release();

 private:
  int fd_ = -1;
};

// An Error for the current errno: kNotFound for ENOENT/ENOTDIR, kIo otherwise. The message is
// "<what> <path>: <strerror>".
Error ErrnoError(std::string_view what, const std::filesystem::path& path);

// Opens a regular file for reading without following a final symlink. Not a regular file:
// kInvalidArgument. Missing: kNotFound.
Result<UniqueFd> OpenForRead(const std::filesystem::path& path);

// What identifies one version of a file's content: if any field differs between two reads, the
// file was written (or replaced) in between.
struct FileVersion {
  std::uint64_t size = 0;
  FileTime mtime, ctime;
  std::uint64_t ino = 0;
  bool operator==(const FileVersion&) const = default;
};
// The version of an open file (fstat).
Result<FileVersion> VersionOf(int fd);
// The version described by a stat result.
FileVersion VersionOf(const struct stat& st);

// Content digests of part of a file, read with pread in bounded chunks.
struct Digest {
  std::string md5_hex;
  std::string sha256_hex;  // empty unless requested
};
Result<Digest> DigestRange(int fd, std::uint64_t offset, std::uint64_t length, bool with_sha256);

// Writes all of `data` at the current offset, retrying on EINTR and short writes.
Status WriteAll(int fd, std::string_view data);

// fsyncs a folder so that a rename inside it is durable.
Status FsyncDir(const std::filesystem::path& dir);

// A fresh temporary name beside `target`: same folder, kTempPrefix, target's name, random suffix.
std::filesystem::path TempPathFor(const std::filesystem::path& target);

// True when `name` (a file name, not a path) is one of our temporary files.
bool IsTempName(std::string_view name);

// True for the names cfgsync keeps for itself in a synced folder (temporary files, the
// marker): never backed up, never watched.
bool IsInternalName(std::string_view name);

// Gives the open file `fd` the mtime and permission bits of `meta` (fields that are absent are
// left alone); uid/gid are applied only when `chown` is true, after mode and mtime, so that
// CAP_CHOWN alone is enough unless the mode has set-user/group-ID bits (those need CAP_FOWNER).
Status ApplyMeta(int fd, const FileMeta& meta, bool chown, const std::filesystem::path& for_errors);

// Creates `dir` and its missing parents (mode 0755 before umask). Existing folders are fine.
Status MakeDirs(const std::filesystem::path& dir);

}  // namespace cfgsync

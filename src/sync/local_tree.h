// A snapshot of the synced folder: every regular file the filter lets through, with the
// attributes that are stored with it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "remote/metadata.h"
#include "sync/filter.h"
#include "sync/gaps.h"

namespace cfgsync {

struct LocalFile {
  std::string rel;  // '/'-separated path relative to the root: the object key
  FileVersion version;
  FileMeta meta;  // mtime, mode, uid, gid (no md5: hashing is left to whoever needs it)
};

struct LocalTree {
  bool root_exists = false;
  std::vector<LocalFile> files;   // sorted by rel (byte order, the order of S3 listings)
  std::vector<std::string> dirs;  // every folder below the root that the filter may include
  /* Included entries that cannot be backed up: symlinks, special files, names restore could
   * not write back, and folders that cannot be read ("lost+found/", with a trailing '/'). */
  std::vector<Gap> gaps;
  // The unreadable folders of `gaps`, without the '/': what is stored under them is unknown
  // locally, never "deleted".
  std::vector<std::string> unreadable_dirs;
};

/* The local folder as a stream of files in key order, for planning that merges it with a
 * listing without holding the whole tree: one folder's entries are read and sorted at a time
 * (with a '/' after folder names, which puts every file below a folder exactly where its keys
 * sort), so memory grows with the depth and the largest folder, not with the tree. Same rules
 * as ScanTree, which is built on it. Thread-compatible. */
class TreeStream {
 public:
  TreeStream(std::filesystem::path root, const Filter& filter);
  TreeStream(TreeStream&&) noexcept = default;
  ~TreeStream();

  // Opens the root. A missing root is no error (root_exists() is false, no file follows); an
  // unreadable root is kIo naming it.
  Status Start();

  // The next file in key order, nullptr after the last one (valid until the next call, which
  // does not read it: the caller may move from it). kIo
  // when a folder that was opened cannot be read.
  Result<LocalFile*> Next();

  bool root_exists() const { return root_exists_; }
  // What the walk met so far that cannot be backed up, in the order met; and the folders it
  // could not read (without the '/'), in key order: every one sorting before the last file
  // returned is known by then.
  const std::vector<Gap>& gaps() const { return gaps_; }
  const std::vector<std::string>& unreadable_dirs() const { return unreadable_dirs_; }
  // Every folder entered so far, in the order entered.
  const std::vector<std::string>& dirs() const { return dirs_; }
  // Files returned by Next() so far.
  std::size_t files() const { return files_; }

 private:
  struct Item;
  struct Frame;
  Status Enter(int fd, std::string prefix);
  void Sort(int dfd, const char* c_name, std::string rel, std::vector<Item>& items);
  void UnreadableDir(const std::string& rel, int err);

  std::filesystem::path root_;
  const Filter* filter_;
  bool root_exists_ = false;
  std::vector<Frame> stack_;
  LocalFile current_;
  std::vector<Gap> gaps_;
  std::vector<std::string> unreadable_dirs_;
  std::vector<std::string> dirs_;
  std::size_t files_ = 0;
};

// Walks `root` without following symlinks. Our own files (temporary files, the marker) are
// ignored. Directories the filter can exclude entirely are not descended into. A folder below
// the root that cannot be read is a gap, not an error: the rest of the tree is still scanned.
// A missing root is not an error: root_exists is false and the tree is empty. An unreadable
// root is kIo naming it.
Result<LocalTree> ScanTree(const std::filesystem::path& root, const Filter& filter);

// Whether `rel` is `dir` or below it ('/'-separated relative paths).
bool IsUnder(std::string_view rel, std::string_view dir);

// Returns the local file's content MD5 (hex), or nullopt when it cannot be read.
using Md5Of = std::function<std::optional<std::string>(const LocalFile&)>;

// The content MD5 (hex) of the scanned file `f` under `root`, or nullopt when it can no longer
// be read. Shared by restore and push planning (their Md5Of).
std::optional<std::string> LocalMd5(const std::filesystem::path& root, const LocalFile& f);

// Stats one file under `root` without following symlinks; kNotFound when missing,
// kInvalidArgument when it is not a regular file.
Result<LocalFile> StatLocal(const std::filesystem::path& root, const std::string& rel);

}  // namespace cfgsync

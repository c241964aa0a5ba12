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

// Walks `root` without following symlinks. Our own files (temporary files, the marker) are
// ignored. Directories the filter can exclude entirely are not descended into. A folder below
// the root that cannot be read is a gap, not an error: the rest of the tree is still scanned.
// A missing root is not an error: root_exists is false and the tree is empty. An unreadable
// root is kIo naming it.
Result<LocalTree> ScanTree(const std::filesystem::path& root, const Filter& filter);

// Whether `rel` is `dir` or below it ('/'-separated relative paths).
bool IsUnder(std::string_view rel, std::string_view dir);

// The content MD5 (hex) of the scanned file `f` under `root`, or nullopt when it can no longer
// be read. Shared by restore and push planning (their Md5Of).
std::optional<std::string> LocalMd5(const std::filesystem::path& root, const LocalFile& f);

// Stats one file under `root` without following symlinks; kNotFound when missing,
// kInvalidArgument when it is not a regular file.
Result<LocalFile> StatLocal(const std::filesystem::path& root, const std::string& rel);

}  // namespace cfgsync

// A remote kept in a local folder: for the demo, for tests, and for backups to a mounted volume.
//
// Layout: the object with key K is the regular file ROOT/K, so the backup can be browsed and
// copied with ordinary tools. Its attributes (mtime, mode, uid, gid) and content MD5 are kept in
// ROOT/.cfgsync-meta/K.json, because a non-root process cannot give the data file a foreign
// owner, and a mode such as 0200 would make the copy unreadable. The data file also gets the
// stored mtime. A metadata file whose recorded size or mtime no longer matches its data file
// (a crash between the two renames, or a hand edit) is ignored: the data file's own attributes
// are reported instead, and its MD5 is recomputed.
//
// Keys under ".cfgsync-meta/" and keys that are not safe relative paths ("..", empty segments,
// leading '/') are refused with kInvalidArgument. Every write is atomic: temporary file in the
// target folder, fsync, rename, fsync of the folder.
//
// The root's parent folder plays the bucket's part: every method reports kNoSuchBucket when it
// does not exist. A missing root under an existing parent is an empty remote (like an absent
// prefix in an existing bucket); Put creates it, and the key's folders, on first use.
#pragma once

#include <filesystem>
#include <memory>

#include "remote/remote.h"

namespace cfgsync {

// The folder name under the root that holds metadata files.
inline constexpr std::string_view kLocalMetaDir = ".cfgsync-meta";

// Returns a Remote rooted at `root` (made absolute). Does not touch the filesystem.
std::unique_ptr<Remote> MakeLocalRemote(const std::filesystem::path& root);

}  // namespace cfgsync

// Which stored attributes a restore applies: whoever can write the bucket chooses them, so
// those that would grant privileges are left out.
#pragma once

#include <string>
#include <vector>

#include "remote/metadata.h"

namespace cfgsync {

// Stored attributes made safe to apply, and what was left out.
struct SafeMeta {
  FileMeta meta;
  // One entry per attribute left out, for people: "mode 104777: set-user-ID bit cleared".
  std::vector<std::string> dropped;
};

// `stored` without what a restore must never apply: the set-user-ID, set-group-ID and sticky
// bits are cleared; a file type other than a regular file (device, fifo, socket, folder,
// symlink) is replaced by a regular file's; a uid or gid of 0 is left out (absent) unless
// `allow_root_owner`. Everything else is kept as it is.
SafeMeta SanitizeForRestore(FileMeta stored, bool allow_root_owner);

}  // namespace cfgsync

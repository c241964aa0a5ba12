// Opening folders below a root without ever leaving it: every component is opened with
// O_NOFOLLOW relative to its parent, so a symlink planted inside the tree cannot redirect a
// write elsewhere.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/fs.h"

namespace cfgsync {

// Opens (and, when `create`, makes with mode 0755 and then gives `owner` if set) each folder of
// `rel_dir` ("" for the root itself) below `root_fd`. A component that is a symlink or a file
// is kInvalidArgument ("path through a symlink: a/b"); a missing one without `create` is
// kNotFound.
struct DirOwner {
  uid_t uid;
  gid_t gid;
};
Result<UniqueFd> OpenDirBeneath(int root_fd, std::string_view rel_dir, bool create,
                                std::optional<DirOwner> owner);

// Checks that `name` in folder `dir_fd` is absent or a regular file (so renaming over it
// replaces only a file). A symlink or folder there is kInvalidArgument naming `rel`.
Status CheckReplaceable(int dir_fd, const std::string& name, std::string_view rel);

}  // namespace cfgsync

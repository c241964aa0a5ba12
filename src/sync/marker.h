// The marker file in --dir (kMarkerName): written after a successful restore or reconcile, it
// says that the folder holds a copy of a given remote. `run` uses it to start from the local
// folder when the remote is down at pod start; without it an empty or foreign folder might be
// taken for a restored one.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "core/error.h"

namespace cfgsync {

// Writes the marker naming `remote_id` into `dir` (temporary file + rename; not fsynced: a
// marker lost in a crash only means waiting for the remote next time), owned by `owner`
// (uid, gid) when given. Idempotent.
Status WriteMarker(const std::filesystem::path& dir, const std::string& remote_id,
                   std::optional<std::pair<uid_t, gid_t>> owner = std::nullopt);

// The remote id of the marker in `dir`, or nullopt when there is none or it is unreadable.
std::optional<std::string> ReadMarker(const std::filesystem::path& dir);

}  // namespace cfgsync

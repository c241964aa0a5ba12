// Restore planning: a pure function of the remote listing, the local tree and the policy.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "remote/remote.h"
#include "sync/filter.h"
#include "sync/local_tree.h"

namespace cfgsync {

// What to do when a local file exists and differs from the backup (--on-conflict).
enum class ConflictPolicy {
  kNewer,   // keep whichever copy has the newer mtime (a newer local file is left for the sidecar)
  kRemote,  // always take the backup
  kLocal,   // never touch an existing local file
};

// Parses "newer", "remote" or "local"; kConfig naming --on-conflict otherwise.
Result<ConflictPolicy> ParseConflictPolicy(std::string_view text);

enum class RestoreAction {
  kDownload,       // absent or older locally: fetch it
  kMakeDir,        // a folder marker ("dir/", size 0)
  kSkipIdentical,  // same content (and mtime) locally: nothing to fetch
  kKeepLocal,      // differs, and the policy keeps the local copy
  kReject,         // unsafe key: never written
  kNeedStat,       // the decision needs the object's stored attributes: Stat it, then re-plan
};

struct RestoreStep {
  RestoreAction action;
  std::size_t index;   // into the remote listing
  std::string rel;     // local path relative to --dir ('/'-separated); for kMakeDir, the folder
  std::string reason;  // why (rejections, conflicts), for the log and --dry-run
};

struct RestorePlan {
  std::vector<RestoreStep> steps;  // in listing order; excluded keys have no step
  int excluded = 0;
};

// Decides every object of `remote` (keys relative to the backup root). Keys that are not safe
// relative paths (CheckSafeKey without control bytes) are rejected; excluded keys are skipped
// and counted. A local file is identical when its size matches and either its mtime equals the
// stored mtime or its MD5 equals the stored MD5 (ETag or md5chksum). `md5_of` is called only
// for local files whose size matches.
RestorePlan PlanRestore(const std::vector<ObjectInfo>& remote, const LocalTree& local,
                        const Filter& filter, ConflictPolicy policy, const Md5Of& md5_of);

// The folder and the name of a path below the restored folder: "a/b/c.ini" → {"a/b", "c.ini"},
// "c.ini" → {"", "c.ini"}. Views into `rel`.
std::pair<std::string_view, std::string_view> SplitParent(std::string_view rel);

// The steps that write (kDownload, kMakeDir), in the order to start them: round-robin over
// their parent folders (the first step of each folder, then the second of each, ...), in key
// order within a folder. Pointers into `plan`, which must outlive the result.
std::vector<const RestoreStep*> WorkOrder(const RestorePlan& plan);

// Lower-case name of an action ("download", "skip-identical", ...), for --dry-run output.
std::string_view ActionName(RestoreAction action);

}  // namespace cfgsync

// Push planning (local folder → backup): a pure function of the local tree, what is known of
// the remote, and the deletion guard.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "remote/remote.h"
#include "sync/filter.h"
#include "sync/local_tree.h"

namespace cfgsync {

// What is known of one stored object: from a listing, or from our own last write (then `meta`
// holds exactly what we stored, md5 included).
struct RemoteEntry {
  std::uint64_t size = 0;
  std::string etag;
  WallTime modified{};
  std::optional<FileMeta> meta;
};
using RemoteIndex = std::map<std::string, RemoteEntry, std::less<>>;

// Builds the index from a listing (taken by value: pass it with std::move to avoid holding
// both at once).
RemoteIndex IndexFromListing(std::vector<ObjectInfo> listing);

// --max-delete: a pass that would delete more than this deletes nothing.
struct DeleteGuard {
  std::optional<std::int64_t> max_count;  // "25"
  std::optional<double> max_percent;      // "50%": of the objects in the backup
  std::int64_t percent_min_objects = 10;  // the percentage applies above this many objects
};

// Parses "N" (0 to 10^9) or "N%" (0 to 100; default "50%"); kConfig naming --max-delete
// otherwise.
Result<DeleteGuard> ParseDeleteGuard(std::string_view text);

// What a pass must do.
struct PushPlan {
  std::vector<std::string> uploads;  // new, changed content, or changed attributes
  std::vector<std::string> verify;   // same content but touched since stored: compare attributes
  std::vector<std::string> deletes;  // empty when the guard blocked them
  std::int64_t unnamed_deletes = 0;  // deletions beyond those named in `deletes` (status only)
  std::int64_t identical = 0;
  std::int64_t blocked_deletes = 0;  // deletions held back by the guard
  std::string guard_reason;          // why, when blocked_deletes > 0
};

// Why a pass deleting `deletions` of `total` stored objects must delete nothing, or "" when it
// may: the local folder is missing or holds no file, or the count exceeds the guard.
std::string DeleteGuardVerdict(const DeleteGuard& guard, std::int64_t deletions, std::int64_t total,
                               bool local_empty);

// The attributes that are compared to decide whether a stored object is up to date.
bool SameAttributes(const FileMeta& local, const FileMeta& stored);

// Whether a stored `key` with no local file is a deletion a reconcile infers: an included file
// key, outside the folders the scan could not read (whose content is unknown, not gone).
bool IsInferredDeletion(std::string_view key, const LocalTree& local, const Filter& filter);

// Whether `key` is such a deletion when the scan could not read `unreadable_dirs` (sorted or
// not; a handful at most).
bool IsInferredDeletion(std::string_view key, const std::vector<std::string>& unreadable_dirs,
                        const Filter& filter);

// One local file against what is stored under its key.
enum class Verdict { kUpload, kVerify, kIdentical };

// PlanPush's verdict for `f` against `stored`, the object under the same key. `md5_of` is
// called only when the sizes match and a stored MD5 is known.
Verdict CompareToStored(const LocalFile& f, const RemoteEntry& stored, const Md5Of& md5_of);

// Plans one reconcile. Content is compared by MD5 (`md5_of` is called only when sizes match);
// an object whose content matches but whose attributes are unknown is "verify" when the local
// file's ctime is newer than the stored object, else identical. Remote keys absent locally and
// included by the filter are deleted (except those under a folder the scan could not read,
// local.unreadable_dirs) unless the guard trips: the local root is missing or
// holds no file, or the count exceeds the guard. Excluded remote keys are never deleted.
PushPlan PlanPush(const LocalTree& local, const RemoteIndex& remote, const Filter& filter,
                  const DeleteGuard& guard, const Md5Of& md5_of);

}  // namespace cfgsync

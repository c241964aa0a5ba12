// Reconcile planning as one pass over two streams in key order: the local walk and the
// remote listing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "remote/remote.h"
#include "sync/filter.h"
#include "sync/local_tree.h"
#include "sync/push_plan.h"
#include "sync/push_plan_index.h"

namespace cfgsync {

// Keys, sorted, looked up by string_view.
using KeySet = std::set<std::string, std::less<>>;

/* A full listing and a full scan held side by side, each as a map or vector of strings, cost
 * several hundred bytes a file at the peak of a reconcile. Both come in key order (the walk
 * sorts one folder at a time, the listing arrives in pages), so one pass over the two holds one
 * page and one folder at a time; what remains is the index, which the same pass brings up to
 * date. The verdicts are PlanPush's (CompareToStored, IsInferredDeletion, DeleteGuardVerdict).
 * Thread-compatible; the index is shared with others under its mutex. */
class PlanMerge {
 public:
  // Plans `local` (started) against the listing handed to Page(). `index` (may be null: nothing
  // kept), guarded by `mu`, ends up holding exactly the listed objects; an entry of ours that
  // knows the stored attributes keeps them when the listing does not carry them and the object
  // is the same (size and etag). The lock is taken per object and never while hashing, so that
  // pushes go on meanwhile. `written` (may be null; guarded by `mu`) holds the keys that pushes
  // stored or deleted since the listing began: their index entries are newer than any page and
  // are left as they are. At most `max_delete_names` deletions are named.
  PlanMerge(TreeStream& local, StoredIndex* index, std::mutex& mu, const Filter& filter,
            Md5Of md5_of, std::size_t max_delete_names = std::numeric_limits<std::size_t>::max(),
            const KeySet* written = nullptr);

  // Takes the next page of the listing (Remote::ListPages' sink). Fails with the local walk's
  // error (a folder that cannot be read after it was opened).
  Status Page(std::vector<ObjectInfo> page);

  // The plan once the listing has ended: the local files after the last key are uploads, the
  // index drops what was not listed, and the deletions are judged by `guard` (as PlanPush;
  // the deletions beyond those named are in unnamed_deletes). Fails as Page().
  Result<PushPlan> Finish(const DeleteGuard& guard);

 private:
  // The current local file, reading the first one if needed (nullptr at the end).
  Result<LocalFile*> Current();
  // Plans every local file sorting before `key` (all when nullopt) as a new upload.
  Status UploadBefore(const std::optional<std::string_view>& key);
  // Brings the index up to date with `o` and returns what is stored.
  RemoteEntry Record(ObjectInfo& o);
  // Drops the index entries after the last listed key and before `key` (to the end: nullopt).
  void DropUnlisted(const std::optional<std::string_view>& key);

  TreeStream& local_;
  StoredIndex* index_;
  std::mutex& mu_;
  const Filter& filter_;
  Md5Of md5_of_;
  std::size_t max_delete_names_;
  const KeySet* written_;
  bool started_ = false;
  LocalFile* current_ = nullptr;
  std::optional<std::string> last_key_;
  PushPlan plan_;
  std::int64_t total_ = 0;      // objects listed
  std::int64_t deletions_ = 0;  // inferred deletions, named or not
};

}  // namespace cfgsync

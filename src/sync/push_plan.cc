#include "sync/push_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace cfgsync {

Verdict CompareToStored(const LocalFile& f, const RemoteEntry& r, const Md5Of& md5_of) {
  if (f.version.size != r.size) return Verdict::kUpload;
  auto stored = StoredMd5(r.etag, r.meta);
  if (stored) {
    auto local = md5_of(f);
    if (!local || *local != *stored) return Verdict::kUpload;
  }
  if (r.meta && r.meta->mtime)
    return SameAttributes(f.meta, *r.meta) ? Verdict::kIdentical : Verdict::kUpload;
  // Nothing about the file (content, mode, owner) can have changed after the object was stored
  // if its ctime is older: skip the HEAD that would tell.
  if (ToWall(f.version.ctime) < r.modified) return stored ? Verdict::kIdentical : Verdict::kVerify;
  return Verdict::kVerify;
}

namespace {

// Whether `key` lies in one of the folders the scan could not read (a handful at most).
bool UnderUnreadable(std::string_view key, const std::vector<std::string>& dirs) {
  return std::any_of(dirs.begin(), dirs.end(), [&](const auto& d) { return IsUnder(key, d); });
}

}  // namespace

RemoteIndex IndexFromListing(std::vector<ObjectInfo> listing) {
  RemoteIndex index;
  for (auto& o : listing) {
    index.emplace(std::move(o.key),
                  RemoteEntry{o.size, std::move(o.etag), o.modified, std::move(o.meta)});
  }
  return index;
}

// The largest count --max-delete takes: far above any folder of config files, and well inside
// the range of the integer it is stored in.
constexpr double kMaxDeleteCount = 1e9;

Result<DeleteGuard> ParseDeleteGuard(std::string_view text) {
  auto bad = [&] {
    return Fail(ErrorKind::kConfig,
                "--max-delete: want a count (0 to 1000000000) or a percentage (0% to 100%), not "
                "\"" +
                    std::string(text) + "\"");
  };
  bool percent = text.ends_with('%');
  std::string_view num = percent ? text.substr(0, text.size() - 1) : text;
  double v = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (num.empty() || ec != std::errc() || p != num.data() + num.size() || v < 0 ||
      !std::isfinite(v)) {
    return bad();
  }
  DeleteGuard g;
  if (percent) {
    if (v > 100) return bad();
    g.max_percent = v;
  } else {
    if (v != std::floor(v) || v > kMaxDeleteCount) return bad();
    g.max_count = static_cast<std::int64_t>(v);
  }
  return g;
}

std::string DeleteGuardVerdict(const DeleteGuard& guard, std::int64_t deletions, std::int64_t total,
                               bool local_empty) {
  if (deletions == 0) return "";
  if (local_empty) return "the local folder is missing or empty: deleting nothing";
  if (guard.max_count && deletions > *guard.max_count) {
    return fmt::format("{} deletions exceed --max-delete {}", deletions, *guard.max_count);
  }
  if (guard.max_percent && total > guard.percent_min_objects &&
      static_cast<double>(deletions) * 100.0 > *guard.max_percent * static_cast<double>(total)) {
    return fmt::format("{} of {} objects would be deleted, over --max-delete {}%", deletions, total,
                       *guard.max_percent);
  }
  return "";
}

bool SameAttributes(const FileMeta& local, const FileMeta& stored) {
  return local.mtime == stored.mtime && local.mode == stored.mode && local.uid == stored.uid &&
         local.gid == stored.gid;
}

bool IsInferredDeletion(std::string_view key, const LocalTree& local, const Filter& filter) {
  return IsInferredDeletion(key, local.unreadable_dirs, filter);
}

bool IsInferredDeletion(std::string_view key, const std::vector<std::string>& unreadable_dirs,
                        const Filter& filter) {
  if (key.ends_with('/') || !filter.IncludesFile(key)) return false;
  return !UnderUnreadable(key, unreadable_dirs);  // unknown, not deleted
}

PushPlan PlanPush(const LocalTree& local, const RemoteIndex& remote, const Filter& filter,
                  const DeleteGuard& guard, const Md5Of& md5_of) {
  PushPlan plan;
  std::set<std::string_view> present;
  for (const auto& f : local.files) {
    present.insert(f.rel);
    auto it = remote.find(f.rel);
    if (it == remote.end()) {
      plan.uploads.push_back(f.rel);
      continue;
    }
    switch (CompareToStored(f, it->second, md5_of)) {
      case Verdict::kUpload:
        plan.uploads.push_back(f.rel);
        break;
      case Verdict::kVerify:
        plan.verify.push_back(f.rel);
        break;
      case Verdict::kIdentical:
        ++plan.identical;
        break;
    }
  }
  std::vector<std::string> deletes;
  for (const auto& [key, entry] : remote) {
    if (!present.contains(key) && IsInferredDeletion(key, local, filter)) deletes.push_back(key);
  }
  auto n = static_cast<std::int64_t>(deletes.size());
  if (n == 0) return plan;
  plan.guard_reason = DeleteGuardVerdict(guard, n, static_cast<std::int64_t>(remote.size()),
                                         !local.root_exists || local.files.empty());
  if (plan.guard_reason.empty()) {
    plan.deletes = std::move(deletes);
  } else {
    plan.blocked_deletes = n;
  }
  return plan;
}

}  // namespace cfgsync

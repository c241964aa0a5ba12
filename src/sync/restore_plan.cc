#include "sync/restore_plan.h"

#include <algorithm>
#include <unordered_map>

#include "remote/key.h"

namespace cfgsync {
namespace {

// The decision for one object that has a local file of the same path.
RestoreStep DecideExisting(const ObjectInfo& o, std::size_t index, const LocalFile& f,
                           ConflictPolicy policy, const Md5Of& md5_of) {
  RestoreStep step{RestoreAction::kDownload, index, o.key, ""};
  bool same_size = f.version.size == o.size;
  bool have_meta = o.meta.has_value();
  if (same_size && have_meta && o.meta->mtime && *o.meta->mtime == *f.meta.mtime) {
    step.action = RestoreAction::kSkipIdentical;
    return step;
  }
  auto stored = StoredMd5(o);
  if (same_size && stored) {
    auto local = md5_of(f);
    if (local && *local == *stored) {
      step.action = RestoreAction::kSkipIdentical;
      return step;
    }
  }
  if (same_size && !stored && !have_meta) {
    step.action = RestoreAction::kNeedStat;  // a multipart ETag: md5chksum may tell
    return step;
  }
  switch (policy) {
    case ConflictPolicy::kRemote:
      step.reason = "differs; --on-conflict remote";
      return step;
    case ConflictPolicy::kLocal:
      step.action = RestoreAction::kKeepLocal;
      step.reason = "differs; --on-conflict local";
      return step;
    case ConflictPolicy::kNewer:
      break;
  }
  if (!have_meta) {
    step.action = RestoreAction::kNeedStat;  // the stored mtime decides
    return step;
  }
  FileTime remote_mtime = o.meta->mtime.value_or(FileTime{
      std::chrono::duration_cast<std::chrono::seconds>(o.modified.time_since_epoch()).count(), 0});
  if (*f.meta.mtime > remote_mtime) {
    step.action = RestoreAction::kKeepLocal;
    step.reason = "differs; local copy is newer";
  } else {
    step.reason = "differs; backup is newer";
  }
  return step;
}

}  // namespace

Result<ConflictPolicy> ParseConflictPolicy(std::string_view text) {
  if (text == "newer") return ConflictPolicy::kNewer;
  if (text == "remote") return ConflictPolicy::kRemote;
  if (text == "local") return ConflictPolicy::kLocal;
  return Fail(ErrorKind::kConfig,
              "--on-conflict: must be newer, remote or local, not \"" + std::string(text) + "\"");
}

RestorePlan PlanRestore(const std::vector<ObjectInfo>& remote, const LocalTree& local,
                        const Filter& filter, ConflictPolicy policy, const Md5Of& md5_of) {
  std::unordered_map<std::string_view, const LocalFile*> by_rel;
  for (const auto& f : local.files) by_rel.emplace(f.rel, &f);
  RestorePlan plan;
  for (std::size_t i = 0; i < remote.size(); ++i) {
    const ObjectInfo& o = remote[i];
    if (o.key.empty() && o.size == 0) continue;  // the prefix's own folder marker ("path/")
    bool marker = o.key.ends_with('/');
    std::string rel = marker ? o.key.substr(0, o.key.find_last_not_of('/') + 1) : o.key;
    if (marker && (o.size != 0 || rel.empty())) {
      if (rel.empty() && o.size == 0) continue;  // a marker for the backup root itself
      plan.steps.push_back({RestoreAction::kReject, i, rel, "folder marker with content"});
      continue;
    }
    if (auto ok = CheckSafeKey(rel, false); !ok) {
      plan.steps.push_back({RestoreAction::kReject, i, rel, ok.error().message});
      continue;
    }
    if (marker ? !filter.MayIncludeDir(rel) : !filter.IncludesFile(rel)) {
      ++plan.excluded;
      continue;
    }
    if (marker) {
      plan.steps.push_back({RestoreAction::kMakeDir, i, rel, ""});
      continue;
    }
    auto it = by_rel.find(rel);
    if (it == by_rel.end()) {
      plan.steps.push_back({RestoreAction::kDownload, i, rel, ""});
    } else {
      plan.steps.push_back(DecideExisting(o, i, *it->second, policy, md5_of));
    }
  }
  return plan;
}

std::pair<std::string_view, std::string_view> SplitParent(std::string_view rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

/* Creating a file and renaming it into place both take the folder's lock exclusively, so
 * workers that all write into one folder queue behind each other while the network idles.
 * Keys arrive sorted, which puts every worker in the same folder at once; dealing the work out
 * folder by folder lets them write in parallel (restoring 2,000 files in 20 folders went from
 * 1.21x to 1.05x the time parallel curl takes). */
std::vector<const RestoreStep*> WorkOrder(const RestorePlan& plan) {
  std::vector<std::vector<const RestoreStep*>> folders;  // in order of first appearance
  std::unordered_map<std::string_view, std::size_t> folder_index;
  std::size_t total = 0;
  for (const auto& s : plan.steps) {
    if (s.action != RestoreAction::kDownload && s.action != RestoreAction::kMakeDir) continue;
    auto [it, added] = folder_index.try_emplace(SplitParent(s.rel).first, folders.size());
    if (added) folders.emplace_back();
    folders[it->second].push_back(&s);
    ++total;
  }
  // Each round takes the next step of every folder that still has one; folders that run out
  // leave the rotation, so the whole deal costs one pass over the steps.
  std::vector<const RestoreStep*> order;
  order.reserve(total);
  std::vector<const std::vector<const RestoreStep*>*> live;
  live.reserve(folders.size());
  for (const auto& f : folders) live.push_back(&f);
  for (std::size_t round = 0; !live.empty(); ++round) {
    std::size_t kept = 0;
    for (const auto* f : live) {
      order.push_back((*f)[round]);
      if (round + 1 < f->size()) live[kept++] = f;
    }
    live.resize(kept);
  }
  return order;
}

std::string_view ActionName(RestoreAction action) {
  switch (action) {
    case RestoreAction::kDownload:
      return "download";
    case RestoreAction::kMakeDir:
      return "mkdir";
    case RestoreAction::kSkipIdentical:
      return "skip-identical";
    case RestoreAction::kKeepLocal:
      return "keep-local";
    case RestoreAction::kReject:
      return "reject";
    case RestoreAction::kNeedStat:
      return "need-stat";
  }
  return "?";
}

}  // namespace cfgsync

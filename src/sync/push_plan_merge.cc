#include "sync/push_plan_merge.h"

#include <utility>

namespace cfgsync {

PlanMerge::PlanMerge(TreeStream& local, StoredIndex* index, std::mutex& mu, const Filter& filter,
                     Md5Of md5_of, std::size_t max_delete_names, const KeySet* written)
    : local_(local),
      index_(index),
      mu_(mu),
      filter_(filter),
      md5_of_(std::move(md5_of)),
      max_delete_names_(max_delete_names),
      written_(written) {}

Result<LocalFile*> PlanMerge::Current() {
  if (!started_) {
    started_ = true;
    auto next = local_.Next();
    if (!next) return next;
    current_ = *next;
  }
  return current_;
}

Status PlanMerge::UploadBefore(const std::optional<std::string_view>& key) {
  for (;;) {
    auto f = Current();
    if (!f) return std::unexpected(f.error());
    if (!*f || (key && (*f)->rel >= *key)) return {};
    plan_.uploads.push_back(std::move((*f)->rel));
    started_ = false;
  }
}

void PlanMerge::DropUnlisted(const std::optional<std::string_view>& key) {
  auto from = last_key_ ? index_->upper_bound(*last_key_) : index_->begin();
  auto to = key ? index_->lower_bound(*key) : index_->end();
  if (from == index_->end() || (to != index_->end() && !(from->first < to->first))) return;
  while (from != to) {
    if (written_ && written_->contains(from->first)) {
      ++from;  // stored by a push after the listing began: not listed, yet there
    } else {
      from = index_->erase(from);
    }
  }
}

RemoteEntry PlanMerge::Record(ObjectInfo& o) {
  RemoteEntry stored{o.size, std::move(o.etag), o.modified, std::move(o.meta)};
  if (!index_) return stored;
  std::lock_guard lock(mu_);
  DropUnlisted(o.key);
  auto it = index_->lower_bound(o.key);
  if (written_ && written_->contains(o.key)) {
    /* A push stored or deleted it after this page was listed: the index is newer. */
    if (it != index_->end() && it->first == o.key) return it->second.Expand();
    return stored;
  }
  if (it != index_->end() && it->first == o.key) {
    const StoredEntry& old = it->second;
    if (!stored.meta && old.HasMeta() && old.size() == stored.size && old.EtagIs(stored.etag))
      stored.meta = old.Expand().meta;  // what we stored ourselves is still there
    it->second = stored;
  } else {
    index_->emplace_hint(it, o.key, stored);
  }
  return stored;
}

Status PlanMerge::Page(std::vector<ObjectInfo> page) {
  for (ObjectInfo& o : page) {
    if (auto ok = UploadBefore(o.key); !ok) return ok;
    RemoteEntry stored = Record(o);
    ++total_;
    auto f = Current();
    if (!f) return std::unexpected(f.error());
    if (*f && (*f)->rel == o.key) {
      switch (CompareToStored(**f, stored, md5_of_)) {
        case Verdict::kUpload:
          plan_.uploads.push_back(std::move((*f)->rel));
          break;
        case Verdict::kVerify:
          plan_.verify.push_back(std::move((*f)->rel));
          break;
        case Verdict::kIdentical:
          ++plan_.identical;
          break;
      }
      started_ = false;
    } else if (IsInferredDeletion(o.key, local_.unreadable_dirs(), filter_)) {
      ++deletions_;
      if (plan_.deletes.size() < max_delete_names_) plan_.deletes.push_back(o.key);
    }
    last_key_ = std::move(o.key);
  }
  return {};
}

Result<PushPlan> PlanMerge::Finish(const DeleteGuard& guard) {
  if (auto ok = UploadBefore(std::nullopt); !ok) return std::unexpected(ok.error());
  if (index_) {
    std::lock_guard lock(mu_);
    DropUnlisted(std::nullopt);
  }
  PushPlan plan = std::move(plan_);
  plan.guard_reason =
      DeleteGuardVerdict(guard, deletions_, total_, !local_.root_exists() || local_.files() == 0);
  if (plan.guard_reason.empty()) {
    plan.unnamed_deletes = deletions_ - static_cast<std::int64_t>(plan.deletes.size());
  } else {
    plan.deletes.clear();
    plan.blocked_deletes = deletions_;
  }
  return plan;
}

}  // namespace cfgsync

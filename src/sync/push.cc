#include "sync/push.h"

#include <dirent.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "core/fs.h"
#include "core/log.h"
#include "core/parallel.h"

namespace cfgsync {
namespace {

// True when `root` holds at least one regular file the filter includes (stops at the first).
bool HasAnyFile(const std::filesystem::path& root, const Filter& filter) {
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(root, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      std::string rel = it->path().lexically_relative(root).generic_string();
      if (filter.IncludesFile(rel)) return true;
    }
  }
  return false;
}

}  // namespace

Pusher::Pusher(Remote& remote, const Filter& filter, PushOptions opts, Clock& clock)
    : remote_(remote), filter_(filter), opts_(std::move(opts)), clock_(clock) {}

std::size_t Pusher::IndexSize() const {
  std::lock_guard lock(mu_);
  return index_.size();
}

Result<std::uint64_t> Pusher::Upload(const std::string& rel) {
  auto f = StatLocal(opts_.dir, rel);
  if (!f) return std::unexpected(f.error());
  auto info = remote_.Put(opts_.dir / rel, rel, f->meta);
  if (!info) return std::unexpected(info.error());
  std::lock_guard lock(mu_);
  index_[rel] = RemoteEntry{info->size, info->etag, info->modified, info->meta};
  return info->size;
}

// Fetches the stored attributes of a file whose content matches, and uploads it again only if
// they differ from the local file's.
Status Pusher::Verify(const std::string& rel, PushStats& stats) {
  auto st = remote_.Stat(rel);
  if (!st) return std::unexpected(st.error());
  auto f = StatLocal(opts_.dir, rel);
  if (!f) return std::unexpected(f.error());
  if (st->meta && SameAttributes(f->meta, *st->meta)) {
    std::lock_guard lock(mu_);
    index_[rel] = RemoteEntry{st->size, st->etag, st->modified, st->meta};
    ++stats.identical;
    return {};
  }
  auto bytes = Upload(rel);
  if (!bytes) return std::unexpected(bytes.error());
  ++stats.uploaded;
  stats.bytes += *bytes;
  return {};
}

Status Pusher::ApplyPlan(const PushPlan& plan, PushStats& stats) {
  std::mutex mu;
  std::size_t n_up = plan.uploads.size();
  ParallelFor(n_up + plan.verify.size(), opts_.transfers, [&](std::size_t i) {
    const std::string& rel = i < n_up ? plan.uploads[i] : plan.verify[i - n_up];
    PushStats local;
    Status ok;
    if (i < n_up) {
      auto bytes = Upload(rel);
      if (bytes)
        local.uploaded = 1, local.bytes = *bytes;
      else
        ok = std::unexpected(bytes.error());
    } else {
      ok = Verify(rel, local);
    }
    std::lock_guard lock(mu);
    if (ok) {
      stats.uploaded += local.uploaded;
      stats.identical += local.identical;
      stats.bytes += local.bytes;
      if (local.uploaded)
        spdlog::info(WithFields("pushed", {{"path", rel}, {"bytes", local.bytes}}));
    } else if (ok.error().kind == ErrorKind::kChanged || ok.error().kind == ErrorKind::kNotFound) {
      ++stats.changed_while_read;
      spdlog::info("{}: changed while being read; pushed again later", rel);
    } else {
      ++stats.failed;
      spdlog::error(WithFields("push failed", {{"path", rel}, {"error", ok.error().message}}));
    }
  });
  if (plan.deletes.empty()) return {};
  if (auto ok = remote_.Remove(plan.deletes); !ok) return ok;
  std::lock_guard lock(mu_);
  for (const auto& k : plan.deletes) {
    index_.erase(k);
    spdlog::info(WithFields("deleted", {{"key", k}}));
  }
  stats.deleted += static_cast<std::int64_t>(plan.deletes.size());
  return {};
}

Result<PushPlan> Pusher::Plan() {
  RemoteIndex fresh;
  {
    auto listing = remote_.List("");
    if (!listing) return std::unexpected(listing.error());
    fresh = IndexFromListing(std::move(*listing));
  }  // the listing is freed before the tree is scanned
  auto tree = ScanTree(opts_.dir, filter_, [this](const std::string& rel, std::string_view why) {
    WarnSkipped(rel, why);
  });
  if (!tree) return std::unexpected(tree.error());
  /* Planned against the index itself, under its lock, rather than against a copy: a copy would
   * cost as much memory again as the whole index (100,000 files: tens of MB). Pushes wait for
   * the planning, which reads a file only when its size matches and its mtime does not. */
  std::lock_guard lock(mu_);
  for (auto& [key, entry] : fresh) {
    auto old = index_.find(key);
    if (!entry.meta && old != index_.end() && old->second.etag == entry.etag &&
        old->second.size == entry.size) {
      entry.meta = std::move(old->second.meta);  // what we stored ourselves is still there
    }
  }
  index_ = std::move(fresh);
  return PlanPush(*tree, index_, filter_, opts_.guard,
                  [&](const LocalFile& f) { return LocalMd5(opts_.dir, f); });
}

Result<PushPlan> Pusher::PlanReadOnly() {
  auto plan = Plan();
  if (!plan) return plan;
  std::vector<std::string> verify = std::move(plan->verify);
  plan->verify.clear();
  for (const auto& rel : verify) {
    auto st = remote_.Stat(rel);
    if (!st) return std::unexpected(st.error());
    auto f = StatLocal(opts_.dir, rel);
    if (f && st->meta && SameAttributes(f->meta, *st->meta)) {
      ++plan->identical;
    } else {
      plan->uploads.push_back(rel);
    }
  }
  return plan;
}

Result<PushStats> Pusher::Reconcile() {
  auto t0 = clock_.Mono();
  auto plan = Plan();
  if (!plan) return std::unexpected(plan.error());
  PushStats stats;
  stats.reached_remote = true;  // Plan() listed it
  stats.identical = plan->identical;
  stats.blocked_deletes = plan->blocked_deletes;
  stats.guard_reason = plan->guard_reason;
  if (!plan->guard_reason.empty()) spdlog::error("deletion guard: {}", plan->guard_reason);
  if (opts_.dry_run) {
    PrintPlan(*plan);
    stats.uploaded = static_cast<std::int64_t>(plan->uploads.size() + plan->verify.size());
    stats.deleted = static_cast<std::int64_t>(plan->deletes.size());
  } else if (auto ok = ApplyPlan(*plan, stats); !ok) {
    return std::unexpected(ok.error());
  }
  stats.seconds = std::chrono::duration<double>(clock_.Mono() - t0).count();
  return stats;
}

void PrintPlan(const PushPlan& plan) {
  for (const auto& k : plan.uploads) std::printf("upload   %s\n", k.c_str());
  for (const auto& k : plan.verify) std::printf("check    %s\n", k.c_str());
  for (const auto& k : plan.deletes) std::printf("delete   %s\n", k.c_str());
  if (plan.blocked_deletes > 0) {
    std::printf("blocked  %lld deletions (%s)\n", static_cast<long long>(plan.blocked_deletes),
                plan.guard_reason.c_str());
  }
}

Result<PushStats> Pusher::PushPath(const std::string& rel) {
  PushStats stats;
  if (!filter_.IncludesFile(rel)) return stats;
  auto f = StatLocal(opts_.dir, rel);
  if (!f) return std::unexpected(f.error());
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(rel);
    if (it != index_.end() && it->second.meta && it->second.meta->md5_hex &&
        it->second.size == f->version.size && SameAttributes(f->meta, *it->second.meta)) {
      auto md5 = LocalMd5(opts_.dir, *f);
      if (md5 && *md5 == *it->second.meta->md5_hex) {
        stats.identical = 1;
        return stats;
      }
    }
  }
  auto bytes = Upload(rel);
  if (!bytes) return std::unexpected(bytes.error());
  stats.uploaded = 1;
  stats.bytes = *bytes;
  stats.reached_remote = true;
  return stats;
}

Result<PushStats> Pusher::RemovePaths(const std::vector<std::string>& rels) {
  PushStats stats;
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mu_);
    for (const auto& rel : rels) {
      std::error_code ec;
      for (auto it = index_.lower_bound(rel); it != index_.end() && it->first.starts_with(rel);
           ++it) {
        const std::string& k = it->first;
        if (k.size() != rel.size() && k[rel.size()] != '/') continue;
        if (k.ends_with('/') || !filter_.IncludesFile(k)) continue;  // as PlanPush: never deleted
        if (!std::filesystem::exists(std::filesystem::symlink_status(opts_.dir / k, ec)))
          keys.push_back(k);
      }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    if (keys.empty()) return stats;
    /* Files removed one after the other arrive in several batches, some of them at the same
     * time: the guard counts this batch together with the deletions of the last
     * opts_.guard_window and those still under way, against what was stored before them. */
    const auto n = static_cast<std::int64_t>(keys.size());
    const std::int64_t recent = RecentDeletions(clock_.Mono());
    stats.guard_reason = DeleteGuardVerdict(opts_.guard, n + recent + deleting_,
                                            static_cast<std::int64_t>(index_.size()) + recent,
                                            !HasAnyFile(opts_.dir, filter_));
    if (!stats.guard_reason.empty()) {
      stats.blocked_deletes = n;
      return stats;
    }
    deleting_ += n;
  }
  auto ok = remote_.Remove(keys);
  std::lock_guard lock(mu_);
  deleting_ -= static_cast<std::int64_t>(keys.size());
  if (!ok) return std::unexpected(ok.error());
  for (const auto& k : keys) index_.erase(k);
  recent_.emplace_back(clock_.Mono(), static_cast<std::int64_t>(keys.size()));
  stats.deleted = static_cast<std::int64_t>(keys.size());
  stats.reached_remote = true;
  return stats;
}

std::string SummaryLine(const PushStats& s) {
  std::string line = fmt::format("uploaded {} ({} bytes), deleted {}, identical {}, failed {}",
                                 s.uploaded, s.bytes, s.deleted, s.identical, s.failed);
  if (s.changed_while_read) line += fmt::format(", changed while read {}", s.changed_while_read);
  if (s.blocked_deletes)
    line += fmt::format(", {} deletions blocked ({})", s.blocked_deletes, s.guard_reason);
  return line + fmt::format(", in {:.2f}s", s.seconds);
}

std::int64_t Pusher::RecentDeletions(MonoTime now) {
  while (!recent_.empty() && now - recent_.front().first > opts_.guard_window) recent_.pop_front();
  std::int64_t total = 0;
  for (const auto& [when, n] : recent_) total += n;
  return total;
}

void Pusher::WarnSkipped(const std::string& rel, std::string_view why) {
  {
    std::lock_guard lock(mu_);
    if (!warned_.insert(rel).second) return;
  }
  spdlog::warn(WithFields("skipped", {{"path", rel}, {"reason", why}}));
}

}  // namespace cfgsync

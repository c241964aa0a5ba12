#include "sync/push.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>

#include "core/fs.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/text.h"
#include "sync/marker.h"
#include "sync/push_plan_merge.h"

namespace cfgsync {
namespace {

// True when `root` holds at least one regular file the filter includes (stops at the first).
bool HasAnyFile(const std::filesystem::path& root, const Filter& filter) {
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(
      root, std::filesystem::directory_options::skip_permission_denied, ec);
  std::filesystem::recursive_directory_iterator end;
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

Result<UniqueFd> Pusher::CheckReadable(const std::string& rel, std::optional<Gap>& gap) {
  const std::filesystem::path path = opts_.dir / rel;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd) return fd;
  const int err = errno;
  const std::string what = "open " + rel + ": " + std::strerror(err);
  if (err == ENOENT || err == ENOTDIR) return Fail(ErrorKind::kNotFound, what);
  /* A symlink, socket or device is told by its type, as a stat of it would say, not by the
   * error that opening it gave. */
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    gap = Gap{rel, GapReason::kSpecial, "not a regular file"};
    return Fail(ErrorKind::kInvalidArgument, path.string() + ": not a regular file");
  }
  if (err == ELOOP) {
    gap = Gap{rel, GapReason::kSymlink, "symlink (not followed)"};
    return Fail(ErrorKind::kInvalidArgument, what);
  }
  gap = Gap{rel, GapReasonForErrno(err), std::strerror(err)};
  return Fail(ErrorKind::kUnreadable, what);
}

/* The file is opened and stat'ed once: the attributes stored, the size sent and the version
 * checked for changes all come from that one fstat. Errors of opening it are the file's (a
 * gap), told apart from a remote that refuses the upload. */
Result<std::uint64_t> Pusher::Upload(const std::string& rel, std::optional<Gap>& gap) {
  auto fd = CheckReadable(rel, gap);
  if (!fd) return std::unexpected(fd.error());
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return std::unexpected(ErrnoError("stat", opts_.dir / rel));
  if (!S_ISREG(st.st_mode)) {
    gap = Gap{rel, GapReason::kSpecial, "not a regular file"};
    return Fail(ErrorKind::kInvalidArgument, (opts_.dir / rel).string() + ": not a regular file");
  }
  FdSource src(fd->get(), VersionOf(st));
  auto info = remote_.Put(rel, src, MetaFromStat(st), CallOptions{.stop = stop_.get_token()});
  if (!info) return std::unexpected(info.error());
  std::lock_guard lock(mu_);
  index_[rel] = RemoteEntry{info->size, info->etag, info->modified, info->meta};
  NoteWritten(rel);
  return info->size;
}

// Fetches the stored attributes of a file whose content matches, and uploads it again only if
// they differ from the local file's.
Status Pusher::Verify(const std::string& rel, PushStats& stats, std::optional<Gap>& gap) {
  auto st = remote_.Stat(rel, CallOptions{.stop = stop_.get_token()});
  if (!st) return std::unexpected(st.error());
  auto f = StatLocal(opts_.dir, rel);
  if (!f) return std::unexpected(f.error());
  if (st->meta && SameAttributes(f->meta, *st->meta)) {
    std::lock_guard lock(mu_);
    index_[rel] = RemoteEntry{st->size, st->etag, st->modified, st->meta};
    NoteWritten(rel);
    ++stats.identical;
    return {};
  }
  auto bytes = Upload(rel, gap);
  if (!bytes) return std::unexpected(bytes.error());
  ++stats.uploaded;
  stats.bytes += *bytes;
  return {};
}

namespace {

// Where one failed upload of a pass goes in the stats.
void CountFailure(const std::string& rel, const Error& e, std::optional<Gap>& gap, PushStats& stats,
                  std::vector<Gap>& gaps) {
  if (gap) {
    ++stats.unprotected;
    gaps.push_back(std::move(*gap));
  } else if (e.kind == ErrorKind::kCancelled) {
    ++stats.failed;  // a shutdown stopped it: neither the file's fault nor the remote's
  } else if (e.kind == ErrorKind::kChanged || e.kind == ErrorKind::kNotFound) {
    ++stats.changed_while_read;
    if (e.kind == ErrorKind::kNotFound) gaps.push_back(Gap{rel, GapReason::kVanished, e.message});
    spdlog::info("{}: changed while being read; pushed again later", rel);
  } else {
    ++stats.failed;
    if (!stats.remote_error) stats.remote_error = e;
    spdlog::error(WithFields("push failed", {{"path", rel}, {"error", e.message}}));
  }
}

}  // namespace

/* Uploads in parallel. The first failure that is the remote's (not a local file's) stops the
 * pass from starting more uploads: a remote that refuses one PUT (no s3:PutObject, quota full,
 * outage) refuses the next ones too, and the sidecar retries the whole pass after a backoff. */
Status Pusher::ApplyPlan(const PushPlan& plan, PushStats& stats, std::vector<Gap>& gaps,
                         bool probe) {
  std::mutex mu;
  std::atomic<bool> remote_failed{false};
  std::size_t n_up = plan.uploads.size();
  auto one = [&](std::size_t i) {
    const std::string& rel = i < n_up ? plan.uploads[i] : plan.verify[i - n_up];
    if (remote_failed || cancelled_) {
      std::lock_guard lock(mu);
      ++stats.failed;
      return;
    }
    PushStats local;
    std::optional<Gap> gap;
    Status ok;
    if (i < n_up) {
      auto bytes = Upload(rel, gap);
      if (bytes)
        local.uploaded = 1, local.bytes = *bytes;
      else
        ok = std::unexpected(bytes.error());
    } else {
      ok = Verify(rel, local, gap);
    }
    std::lock_guard lock(mu);
    if (ok) {
      stats.uploaded += local.uploaded;
      stats.identical += local.identical;
      stats.bytes += local.bytes;
      if (local.uploaded)
        spdlog::info(WithFields("pushed", {{"path", rel}, {"bytes", local.bytes}}));
      return;
    }
    CountFailure(rel, ok.error(), gap, stats, gaps);
    if (stats.remote_error) remote_failed = true;
  };
  const std::size_t total = n_up + plan.verify.size();
  const std::size_t first = probe && total > 0 ? 1 : 0;
  if (first) one(0);
  ParallelFor(total - first, opts_.transfers, [&](std::size_t i) { one(i + first); });
  if (plan.deletes.empty() || stats.remote_error) return {};
  if (auto ok = remote_.Remove(plan.deletes); !ok) {
    ++stats.failed;
    stats.remote_error = ok.error();
    return {};
  }
  std::lock_guard lock(mu_);
  for (const auto& k : plan.deletes) {
    index_.erase(k);
    spdlog::info(WithFields("deleted", {{"key", k}}));
  }
  stats.deleted += static_cast<std::int64_t>(plan.deletes.size());
  return {};
}

void Pusher::NoteWritten(const std::string& key) {
  if (merging_) written_while_merging_.insert(key);
}

struct Pusher::Scanned {
  PushPlan plan;
  std::vector<Gap> gaps;
};

namespace {

// Gaps in the order LocalTree keeps them.
std::vector<Gap> SortedGaps(std::vector<Gap> gaps) {
  std::sort(gaps.begin(), gaps.end(), [](auto& a, auto& b) { return a.rel < b.rel; });
  return gaps;
}

}  // namespace

/* The walk and the listing are merged as they come (PlanMerge), and the index is brought up to
 * date in the same pass: neither a full listing nor a full scan is ever held. A root that
 * cannot be opened fails the pass once the listing has answered, so that a remote that does
 * not answer is reported as such first. */
Result<Pusher::Scanned> Pusher::PlanWithGaps() {
  TreeStream local(opts_.dir, filter_);
  const Status started = local.Start();
  {
    std::lock_guard lock(mu_);
    merging_ = true;
  }
  PlanMerge merge(
      local, &index_, mu_, filter_, [&](const LocalFile& f) { return LocalMd5(opts_.dir, f); },
      std::numeric_limits<std::size_t>::max(), &written_while_merging_);
  Status listed = remote_.ListPages("", [&](std::vector<ObjectInfo> page) -> Status {
    if (!started) return started;
    return merge.Page(std::move(page));
  });
  auto plan = listed && started ? merge.Finish(opts_.guard) : Result<PushPlan>{};
  std::lock_guard lock(mu_);
  merging_ = false;
  written_while_merging_.clear();
  if (!listed) return std::unexpected(listed.error());
  if (!started) return std::unexpected(started.error());
  if (!plan) return std::unexpected(plan.error());
  Scanned out{std::move(*plan), SortedGaps(local.gaps())};
  if (!hold_inferred_.empty() && !out.plan.deletes.empty()) {
    out.plan.blocked_deletes = static_cast<std::int64_t>(out.plan.deletes.size());
    out.plan.guard_reason = hold_inferred_;
    out.plan.deletes.clear();
  }
  return out;
}

Result<PushPlan> Pusher::Plan() {
  auto scanned = PlanWithGaps();
  if (!scanned) return std::unexpected(scanned.error());
  gaps_.ReplaceAll(scanned->gaps, opts_.dir);
  return std::move(scanned->plan);
}

/* `status` keeps no index and names the deletions up to a cap: it holds a page of the listing
 * and a folder of the walk at a time, whatever the size of the backup or of the folder. */
Result<PushPlan> Pusher::PlanStreamed() {
  constexpr std::size_t kMaxDeleteNames = 10'000;
  TreeStream local(opts_.dir, filter_);
  if (auto ok = local.Start(); !ok) return std::unexpected(ok.error());
  std::mutex unused;  // no index is kept
  PlanMerge merge(
      local, nullptr, unused, filter_, [&](const LocalFile& f) { return LocalMd5(opts_.dir, f); },
      kMaxDeleteNames);
  Status listed = remote_.ListPages(
      "", [&](std::vector<ObjectInfo> page) -> Status { return merge.Page(std::move(page)); });
  if (!listed) return std::unexpected(listed.error());
  auto plan = merge.Finish(opts_.guard);
  if (!plan) return plan;
  gaps_.ReplaceAll(SortedGaps(local.gaps()), opts_.dir);
  return plan;
}

Result<PushPlan> Pusher::PlanReadOnly() {
  auto plan = PlanStreamed();
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
  /* A file that must be uploaded but cannot be read is unprotected, not "to upload". */
  std::erase_if(plan->uploads, [&](const std::string& rel) {
    std::optional<Gap> gap;
    if (CheckReadable(rel, gap) || !gap) return false;
    gaps_.Report(gap->rel, gap->reason, gap->detail);
    return true;
  });
  return plan;
}

Result<PushStats> Pusher::Reconcile(bool probe) {
  auto t0 = clock_.Mono();
  if (!opts_.dry_run) AbortStaleUploads();
  auto scanned = PlanWithGaps();
  if (!scanned) return std::unexpected(scanned.error());
  const PushPlan& plan = scanned->plan;
  PushStats stats;
  stats.reached_remote = true;  // the listing answered
  stats.identical = plan.identical;
  stats.blocked_deletes = plan.blocked_deletes;
  stats.guard_reason = plan.guard_reason;
  if (!plan.guard_reason.empty()) spdlog::error("deletion guard: {}", plan.guard_reason);
  std::vector<Gap> gaps = std::move(scanned->gaps);
  stats.unprotected = static_cast<std::int64_t>(gaps.size());
  if (opts_.dry_run) {
    PrintPlan(plan);
    stats.uploaded = static_cast<std::int64_t>(plan.uploads.size() + plan.verify.size());
    stats.deleted = static_cast<std::int64_t>(plan.deletes.size());
  } else if (auto ok = ApplyPlan(plan, stats, gaps, probe); !ok) {
    return std::unexpected(ok.error());
  }
  gaps_.ReplaceAll(gaps, opts_.dir);
  if (!opts_.dry_run && !stats.remote_error && !opts_.marker_id.empty()) {
    if (auto ok = WriteMarker(opts_.dir, opts_.marker_id); !ok)
      spdlog::debug("marker not written: {}", ok.error().message);
  }
  stats.seconds = std::chrono::duration<double>(clock_.Mono() - t0).count();
  return stats;
}

void PrintPlan(const PushPlan& plan) {
  for (const auto& k : plan.uploads) std::printf("upload   %s\n", Printable(k).c_str());
  for (const auto& k : plan.verify) std::printf("check    %s\n", Printable(k).c_str());
  for (const auto& k : plan.deletes) std::printf("delete   %s\n", Printable(k).c_str());
  if (plan.unnamed_deletes > 0)
    std::printf("delete   ... and %lld more\n", static_cast<long long>(plan.unnamed_deletes));
  if (plan.blocked_deletes > 0) {
    std::printf("blocked  %lld deletions (%s)\n", static_cast<long long>(plan.blocked_deletes),
                plan.guard_reason.c_str());
  }
}

std::optional<std::string> Pusher::StoredMd5If(const std::string& rel, const LocalFile& f) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(rel);
  if (it == index_.end() || !it->second.HasMeta() || it->second.size() != f.version.size)
    return std::nullopt;
  const RemoteEntry stored = it->second.Expand();
  if (!stored.meta->md5_hex || !SameAttributes(f.meta, *stored.meta)) return std::nullopt;
  return stored.meta->md5_hex;
}

Result<PushStats> Pusher::PushPath(const std::string& rel) {
  PushStats stats;
  if (!filter_.IncludesFile(rel)) return stats;
  if (std::string bad = BadNameReason(rel); !bad.empty()) {
    gaps_.Report(rel, GapReason::kName, bad);
    return Fail(ErrorKind::kInvalidArgument, rel + ": " + bad);
  }
  auto f = StatLocal(opts_.dir, rel);
  if (!f) {
    if (f.error().kind == ErrorKind::kNotFound) gaps_.Clear(rel);
    if (f.error().kind == ErrorKind::kInvalidArgument)
      gaps_.Report(rel, GapReason::kSpecial, "not a regular file");
    return std::unexpected(f.error());
  }
  /* The file is hashed outside the lock (other pushes and the planner use the index
   * meanwhile); the stored MD5 it matched must still be the index's afterwards. */
  std::optional<std::string> stored = StoredMd5If(rel, *f);
  if (stored && LocalMd5(opts_.dir, *f) == stored && StoredMd5If(rel, *f) == stored) {
    stats.identical = 1;
    gaps_.Clear(rel);
    return stats;
  }
  std::optional<Gap> gap;
  auto bytes = Upload(rel, gap);
  if (gap) gaps_.Report(gap->rel, gap->reason, gap->detail);
  if (!bytes) {
    if (bytes.error().kind == ErrorKind::kNotFound) gaps_.Clear(rel);
    return std::unexpected(bytes.error());
  }
  gaps_.Clear(rel);
  stats.uploaded = 1;
  stats.bytes = *bytes;
  stats.reached_remote = true;
  return stats;
}

Result<PushStats> Pusher::RemovePaths(const std::vector<std::string>& rels, bool observed) {
  PushStats stats;
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mu_);
    for (const auto& rel : rels) {
      for (auto it = index_.lower_bound(rel); it != index_.end() && it->first.starts_with(rel);
           ++it) {
        const std::string& k = it->first;
        if (k.size() != rel.size() && k[rel.size()] != '/') continue;
        if (k.ends_with('/') || !filter_.IncludesFile(k)) continue;  // as PlanPush: never deleted
        keys.push_back(k);
      }
    }
  }
  /* The file system is looked at without the lock (a folder of thousands of files takes a
   * while); the index may change meanwhile, so the keys are checked against it again. */
  std::erase_if(keys, [&](const std::string& k) {
    std::error_code ec;
    return std::filesystem::exists(std::filesystem::symlink_status(opts_.dir / k, ec));
  });
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  if (keys.empty()) return stats;
  const bool local_empty = !HasAnyFile(opts_.dir, filter_);
  {
    std::lock_guard lock(mu_);
    std::erase_if(keys, [&](const std::string& k) { return !index_.contains(k); });
    if (keys.empty()) return stats;
    /* Files removed one after the other arrive in several batches, some of them at the same
     * time: the guard counts this batch together with the deletions of the last
     * opts_.guard_window and those still under way, against what was stored before them.
     * Deletions seen happening are the app's own doing and need no count: only an emptied
     * folder (a lost volume looks the same from here) holds them. */
    const auto n = static_cast<std::int64_t>(keys.size());
    const std::int64_t recent = RecentDeletions(clock_.Mono());
    stats.guard_reason =
        DeleteGuardVerdict(observed ? DeleteGuard{} : opts_.guard, n + recent + deleting_,
                           static_cast<std::int64_t>(index_.size()) + recent, local_empty);
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
  for (const auto& k : keys) {
    index_.erase(k);
    NoteWritten(k);
  }
  recent_.emplace_back(clock_.Mono(), static_cast<std::int64_t>(keys.size()));
  stats.deleted = static_cast<std::int64_t>(keys.size());
  stats.reached_remote = true;
  return stats;
}

/* The folder is walked again (files may have changed since they were pushed) but judged
 * against the index alone, one file at a time: the lock is held for a lookup, never while a
 * file is hashed, and no copy of the tree is kept. */
Result<std::vector<std::string>> Pusher::Unconfirmed(std::size_t limit, std::size_t* count) {
  TreeStream local(opts_.dir, filter_);
  if (auto ok = local.Start(); !ok) return std::unexpected(ok.error());
  std::vector<std::string> uploads, verify;  // PlanPush's two lists, named in its order
  std::size_t total = 0;
  const Md5Of md5_of = [&](const LocalFile& f) { return LocalMd5(opts_.dir, f); };
  for (;;) {
    auto f = local.Next();
    if (!f) return std::unexpected(f.error());
    if (!*f) break;
    std::optional<RemoteEntry> stored;
    {
      std::lock_guard lock(mu_);
      if (auto it = index_.find((*f)->rel); it != index_.end()) stored = it->second.Expand();
    }
    const Verdict v = stored ? CompareToStored(**f, *stored, md5_of) : Verdict::kUpload;
    if (v == Verdict::kIdentical) continue;
    auto& names = v == Verdict::kUpload ? uploads : verify;
    if (names.size() < limit) names.push_back(std::move((*f)->rel));
    ++total;
  }
  std::vector<std::string> names = std::move(uploads);
  for (auto& rel : verify) names.push_back(std::move(rel));
  if (names.size() > limit) names.resize(limit);
  const std::vector<Gap> gaps = SortedGaps(local.gaps());
  gaps_.ReplaceAll(gaps, opts_.dir);
  for (const Gap& g : gaps) {
    if (std::find(names.begin(), names.end(), g.rel) == names.end()) {
      if (names.size() < limit) names.push_back(g.rel);
      ++total;
    }
  }
  if (count) *count = total;
  return names;
}

std::string SummaryLine(const PushStats& s) {
  std::string line = fmt::format("uploaded {} ({} bytes), deleted {}, identical {}, failed {}",
                                 s.uploaded, s.bytes, s.deleted, s.identical, s.failed);
  if (s.unprotected) line += fmt::format(", not backed up {}", s.unprotected);
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

void Pusher::AbortStaleUploads() {
  auto aborted = remote_.AbortStaleUploads();
  if (!aborted) {
    spdlog::warn(WithFields("incomplete multipart uploads not cleaned up",
                            {{"error", aborted.error().message}}));
  } else if (*aborted > 0) {
    spdlog::info(WithFields("aborted incomplete multipart uploads", {{"count", *aborted}}));
  }
}

void Pusher::HoldInferredDeletions(std::string why) {
  std::lock_guard lock(mu_);
  hold_inferred_ = std::move(why);
}

void Pusher::ReportSkipped(const std::string& rel, std::string_view why) {
  gaps_.Report(rel, why.starts_with("symlink") ? GapReason::kSymlink : GapReason::kSpecial, why);
}

}  // namespace cfgsync

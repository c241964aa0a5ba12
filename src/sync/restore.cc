#include "sync/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>

#include "core/fs.h"
#include "core/log.h"
#include "core/number.h"
#include "core/parallel.h"
#include "core/text.h"
#include "sync/group_commit.h"
#include "sync/listing_feed.h"
#include "sync/restore_meta.h"
#include "sync/safe_dir.h"

namespace cfgsync {
namespace {

mode_t DefaultFileMode() {
  mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

// Removes our temporary files left by an interrupted run, in the root and every folder below.
std::int64_t RemoveStaleTemps(int root_fd, const LocalTree& tree) {
  std::int64_t removed = 0;
  std::vector<std::string> dirs = tree.dirs;
  dirs.insert(dirs.begin(), "");
  for (const auto& rel : dirs) {
    auto dir = OpenDirBeneath(root_fd, rel, false, std::nullopt);
    if (!dir) continue;
    UniqueFd dup(::fcntl(dir->get(), F_DUPFD_CLOEXEC, 0));
    DIR* d = dup ? ::fdopendir(dup.get()) : nullptr;
    if (!d) continue;  // `dup` closes the descriptor fdopendir did not take
    dup.Release();
    while (dirent* e = ::readdir(d)) {
      if (IsTempName(e->d_name) && ::unlinkat(dir->get(), e->d_name, 0) == 0) ++removed;
    }
    ::closedir(d);
  }
  return removed;
}

// Shared state of one restore run's workers.
struct Run {
  Run(Remote& r, const RestoreOptions& o, int fd, bool chown)
      : remote(r), opts(o), root_fd(fd), can_chown(chown) {}
  Remote& remote;
  const RestoreOptions& opts;
  int root_fd;
  bool can_chown;
  std::optional<DirOwner> dir_owner;
  mode_t default_mode = DefaultFileMode();
  std::atomic<bool> abort{false};
  std::once_flag owner_warning;
  std::mutex mu;
  std::optional<Error> fatal;
  RestoreStats stats;
  std::set<std::string> dirty_dirs;  // folders (and their parents) whose entries changed

  /* Renames and new folders become durable when their folder is fsynced. Doing that once per
   * folder at the end, rather than after every file, saves a journal commit per file; a crash
   * before it leaves each name either absent or complete, never partial. */
  void MarkDirty(const std::string& rel) {
    std::lock_guard lock(mu);
    for (std::string d = rel;; d = std::string(SplitParent(d).first)) {
      if (!dirty_dirs.insert(d).second || d.empty()) break;
    }
  }

  // Whether the group commit covers a file in `dir_fd`: only on --dir's own filesystem
  // (`root_dev`); a folder mounted inside --dir gets an fsync per file.
  bool GroupCovers(int dir_fd) const {
    struct stat st {};
    return group && ::fstat(dir_fd, &st) == 0 && st.st_dev == root_dev;
  }

  dev_t root_dev = 0;
  // Set where one syncfs covers the files (SyncfsCoversFiles). Last, so it is destroyed first:
  // its thread calls back into the members above.
  std::unique_ptr<GroupCommit> group;
};

// Fsyncs every folder a rename or mkdir touched; returns the first failure.
Status SyncDirtyDirs(Run& run) {
  for (auto it = run.dirty_dirs.rbegin(); it != run.dirty_dirs.rend(); ++it) {
    auto dir = OpenDirBeneath(run.root_fd, *it, false, std::nullopt);
    if (!dir) return std::unexpected(dir.error());
    if (::fsync(dir->get()) != 0) {
      return Fail(ErrorKind::kIo,
                  "fsync folder " + (it->empty() ? "." : *it) + ": " + std::strerror(errno));
    }
  }
  return {};
}

// The attributes a restored file gets: the stored ones restore may apply (SanitizeForRestore;
// what it leaves out is logged), the listing's time when none was stored (as rclone does), and
// --chown's owner over the stored one. With CAP_CHOWN, an absent owner is --dir's.
FileMeta TargetMeta(Run& run, const ObjectInfo& stored) {
  SafeMeta safe = SanitizeForRestore(stored.meta.value_or(FileMeta{}), run.opts.allow_root_owner);
  if (!safe.dropped.empty()) {
    spdlog::warn(WithFields("restoring without some stored attributes",
                            {{"key", Printable(stored.key)}, {"ignored", safe.dropped}}));
  }
  FileMeta& m = safe.meta;
  if (!m.mtime) {
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(stored.modified.time_since_epoch());
    m.mtime = FileTime{ns.count() / 1'000'000'000,
                       static_cast<std::uint32_t>(ns.count() % 1'000'000'000)};
  }
  if (!m.mode) m.mode = S_IFREG | run.default_mode;
  if (run.opts.chown) {
    m.uid = run.opts.chown->uid;
    m.gid = run.opts.chown->gid;
  } else if (run.can_chown && run.dir_owner) {
    if (!m.uid) m.uid = run.dir_owner->uid;
    if (!m.gid) m.gid = run.dir_owner->gid;
  } else if (!run.can_chown &&
             ((m.uid && *m.uid != ::geteuid()) || (m.gid && *m.gid != ::getegid()))) {
    std::call_once(run.owner_warning, [&] {
      spdlog::warn(
          "running as uid {} without CAP_CHOWN: stored owners (e.g. {}:{} for {}) are not applied",
          ::geteuid(), m.uid.value_or(0), m.gid.value_or(0), stored.key);
    });
  }
  return std::move(m);
}

// Counts the outcome of one step and logs it; a failure that dooms the whole run stops it.
void Record(Run& run, const std::string& rel, const Result<std::uint64_t>& r, bool folder) {
  std::lock_guard lock(run.mu);
  if (r) {
    ++(folder ? run.stats.folders : run.stats.restored);
    run.stats.bytes += *r;
    spdlog::debug(WithFields("restored", {{"path", rel}, {"bytes", *r}}));
  } else if (r.error().kind == ErrorKind::kCancelled) {
    spdlog::debug(WithFields("download stopped", {{"path", rel}}));  // the run reports it
  } else if (r.error().kind == ErrorKind::kInvalidArgument) {
    ++run.stats.rejected;
    spdlog::warn(WithFields("rejected", {{"path", rel}, {"error", r.error().message}}));
  } else {
    ++run.stats.failed;
    spdlog::error(WithFields("restore failed", {{"path", rel}, {"error", r.error().message}}));
    ErrorKind k = r.error().kind;
    if (k == ErrorKind::kAuth || k == ErrorKind::kNoSuchBucket || k == ErrorKind::kConfig) {
      run.abort = true;
      if (!run.fatal) run.fatal = r.error();
    }
  }
}

// Renames a temporary file made durable (`durable` ok) into place, or removes it, and records
// the outcome.
void Place(Run& run, const PendingFile& f, const Status& durable) {
  int dir = f.dir->get();
  Status ok = durable;
  if (ok && ::renameat(dir, f.tmp.c_str(), dir, f.name.c_str()) != 0) {
    ok = Fail(ErrorKind::kIo, "rename into " + f.rel + ": " + std::strerror(errno));
  }
  if (!ok) {
    ::unlinkat(dir, f.tmp.c_str(), 0);
    Record(run, f.rel, std::unexpected(ok.error()), false);
    return;
  }
  run.MarkDirty(std::string(SplitParent(f.rel).first));
  Record(run, f.rel, f.bytes, false);
}

// Downloads one object to a temporary file beside its target and applies its attributes. The
// file is then made durable and renamed into place: by the run's group commit, or here with an
// fsync of its own where syncfs would not cover it.
void Download(Run& run, const ObjectInfo& obj, const std::string& rel) {
  auto [parent_rel, name_view] = SplitParent(rel);
  std::string name(name_view);
  auto parent = OpenDirBeneath(run.root_fd, parent_rel, true, run.dir_owner);
  if (!parent) return Record(run, rel, std::unexpected(parent.error()), false);
  if (auto ok = CheckReplaceable(parent->get(), name, rel); !ok) {
    return Record(run, rel, std::unexpected(ok.error()), false);
  }
  PendingFile f{std::make_shared<const UniqueFd>(std::move(*parent)),
                TempPathFor(name).filename().string(), name, rel, 0};
  int dir = f.dir->get();
  UniqueFd out(
      ::openat(dir, f.tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) {
    return Record(run, rel, Fail(ErrorKind::kIo, "create " + f.tmp + ": " + std::strerror(errno)),
                  false);
  }
  FdSink sink(out.get());
  auto got = run.remote.Get(obj.key, sink, CallOptions{.stop = run.opts.stop});
  if (!got) {
    ::unlinkat(dir, f.tmp.c_str(), 0);
    return Record(run, rel, std::unexpected(got.error()), false);
  }
  f.bytes = got->size;
  ObjectInfo merged = *got;
  if (!merged.meta || (!merged.meta->mtime && obj.meta)) merged.meta = obj.meta;
  if (merged.modified == WallTime{}) merged.modified = obj.modified;
  FileMeta meta = TargetMeta(run, merged);
  bool chown = run.opts.chown.has_value() || run.can_chown;
  Status ok = ApplyMeta(out.get(), meta, chown, rel);
  if (ok && run.GroupCovers(dir)) return run.group->Submit(std::move(f));
  if (ok && ::fsync(out.get()) != 0) {
    ok = Fail(ErrorKind::kIo, "fsync " + rel + ": " + std::strerror(errno));
  }
  Place(run, f, ok);
}

void Execute(Run& run, const std::vector<ObjectInfo>& listing, const RestorePlan& plan) {
  std::vector<const RestoreStep*> work = WorkOrder(plan);
  ParallelFor(work.size(), run.opts.transfers, [&](std::size_t i) {
    if (run.abort || run.opts.stop.stop_requested()) return;
    const RestoreStep& s = *work[i];
    if (s.action != RestoreAction::kMakeDir) return Download(run, listing[s.index], s.rel);
    auto d = OpenDirBeneath(run.root_fd, s.rel, true, run.dir_owner);
    if (d) run.MarkDirty(std::string(SplitParent(s.rel).first));
    Record(run, s.rel, d ? Result<std::uint64_t>(0) : std::unexpected(d.error()), true);
  });
}

}  // namespace

Result<Owner> ParseOwner(std::string_view text) {
  auto colon = text.find(':');
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  if (colon != std::string_view::npos) {
    uid = ParseUnsigned<uid_t>(text.substr(0, colon));
    gid = ParseUnsigned<gid_t>(text.substr(colon + 1));
  }
  if (!uid || !gid) {
    return Fail(ErrorKind::kConfig,
                "--chown: want UID:GID (e.g. 1000:1000), not \"" + std::string(text) + "\"");
  }
  return Owner{*uid, *gid};
}

bool CanChown() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("CapEff:")) {
      std::string_view hex(line);
      hex.remove_prefix(7);
      while (hex.starts_with('\t') || hex.starts_with(' ')) hex.remove_prefix(1);
      auto caps = ParseUnsigned<std::uint64_t>(hex, 16);
      return caps ? (*caps & 1) != 0 : ::geteuid() == 0;  // CAP_CHOWN is capability 0
    }
  }
  return ::geteuid() == 0;
}

std::string SummaryLine(const RestoreStats& s) {
  return fmt::format(
      "restored {} files ({} bytes), {} folders, skipped {} identical, kept {} local (conflict), "
      "rejected {} keys, failed {}, in {:.2f}s",
      s.restored, s.bytes, s.folders, s.skipped_identical, s.kept_local, s.rejected, s.failed,
      s.seconds);
}

}  // namespace cfgsync

namespace cfgsync {
namespace {

// Stats the objects whose decision needs their stored attributes, then plans again.
RestorePlan ResolveStats(Run& run, std::vector<ObjectInfo>& listing, const LocalTree& tree,
                         const Filter& filter, const Md5Of& md5_of) {
  RestorePlan plan = PlanRestore(listing, tree, filter, run.opts.policy, md5_of);
  std::vector<std::size_t> need;
  for (const auto& s : plan.steps) {
    if (s.action == RestoreAction::kNeedStat) need.push_back(s.index);
  }
  if (need.empty()) return plan;
  ParallelFor(need.size(), run.opts.transfers, [&](std::size_t i) {
    ObjectInfo& o = listing[need[i]];
    auto st = run.remote.Stat(o.key);
    o.meta = st && st->meta ? *st->meta : FileMeta{};  // unknown stays unknown: take the backup
    if (!st) spdlog::warn("stat {}: {}", o.key, st.error().message);
  });
  return PlanRestore(listing, tree, filter, run.opts.policy, md5_of);
}

void PrintDryRun(const RestorePlan& plan) {
  for (const auto& s : plan.steps) {
    std::string line = fmt::format("{:<15} {}", ActionName(s.action), Printable(s.rel));
    if (!s.reason.empty()) line += "  (" + Printable(s.reason) + ")";
    std::puts(line.c_str());
  }
}

void CountPlan(const RestorePlan& plan, const std::vector<ObjectInfo>& listing, RestoreStats& stats,
               bool dry_run) {
  for (const auto& s : plan.steps) {
    if (dry_run && s.action == RestoreAction::kDownload) stats.bytes += listing[s.index].size;
    switch (s.action) {
      case RestoreAction::kSkipIdentical:
        ++stats.skipped_identical;
        break;
      case RestoreAction::kKeepLocal:
        ++stats.kept_local;
        break;
      case RestoreAction::kReject:
        ++stats.rejected;
        spdlog::warn("rejected key {}", s.reason);
        break;
      case RestoreAction::kDownload:
        stats.restored += dry_run;
        break;
      case RestoreAction::kMakeDir:
        stats.folders += dry_run;
        break;
      case RestoreAction::kNeedStat:
        break;
    }
  }
}

bool IsRootMarker(const ObjectInfo& o) {
  return o.size == 0 && o.key.find_first_not_of('/') == std::string::npos;
}

// The error for a listing that failed before any page: a missing bucket names where the name
// came from.
Error ListingError(const Error& e, const RestoreOptions& opts) {
  if (e.kind != ErrorKind::kNoSuchBucket) return e;
  return Error{ErrorKind::kNoSuchBucket,
               opts.bucket_label + " does not exist (" + e.message +
                   "); check the name, or pass --allow-missing-bucket to treat it as a first "
                   "deployment"};
}

// Everything a restore needs once the backup is known to hold files: --dir exists and is open,
// its current tree is scanned and stale temporary files are gone.
struct Target {
  UniqueFd root;
  LocalTree tree;
  std::unique_ptr<Run> run;
};

// Creates --dir when it is missing (given --chown's owner), so that the sidecar has a folder
// to watch even after a first deployment.
Status CreateDir(const RestoreOptions& opts) {
  if (opts.dry_run) return {};
  struct stat st {};
  bool created = ::stat(opts.dir.c_str(), &st) != 0 && errno == ENOENT;
  if (auto ok = MakeDirs(opts.dir); !ok) return ok;
  if (created && opts.chown && ::chown(opts.dir.c_str(), opts.chown->uid, opts.chown->gid) != 0) {
    return std::unexpected(ErrnoError("chown", opts.dir));
  }
  return {};
}

Result<Target> PrepareTarget(Remote& remote, const Filter& filter, const RestoreOptions& opts) {
  if (auto ok = CreateDir(opts); !ok) return std::unexpected(ok.error());
  Target t;
  t.root = UniqueFd(::open(opts.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!t.root && !(opts.dry_run && errno == ENOENT))
    return std::unexpected(ErrnoError("open folder", opts.dir));
  auto tree = ScanTree(opts.dir, filter);
  if (!tree) return std::unexpected(tree.error());
  t.tree = std::move(*tree);
  t.run = std::make_unique<Run>(remote, opts, t.root.get(), CanChown());
  Run& run = *t.run;
  struct stat root_st {};
  bool root_known = t.root && ::fstat(t.root.get(), &root_st) == 0;
  if (opts.chown) {
    run.dir_owner = DirOwner{opts.chown->uid, opts.chown->gid};
  } else if (run.can_chown && root_known) {
    // New folders belong to whoever owns --dir.
    run.dir_owner = DirOwner{root_st.st_uid, root_st.st_gid};
  }
  if (!opts.dry_run) run.stats.stale_temps_removed = RemoveStaleTemps(t.root.get(), t.tree);
  if (!opts.dry_run && root_known && opts.flush != FlushMode::kEachFile &&
      (opts.flush == FlushMode::kGroup || SyncfsCoversFiles(t.root.get()))) {
    int fs_fd = t.root.get();
    run.root_dev = root_st.st_dev;
    std::string what = "flush restored files (syncfs " + opts.dir.string() + ")";
    run.group = std::make_unique<GroupCommit>(
        [fs_fd, what] { return SyncFilesystem(fs_fd, what); },
        [&run](const PendingFile& f, const Status& durable) { Place(run, f, durable); });
  }
  if (run.stats.stale_temps_removed > 0) {
    spdlog::info("removed {} stale temporary files from an interrupted restore",
                 run.stats.stale_temps_removed);
  }
  return t;
}

/* A stop (SIGTERM) ends the downloads in flight, which remove their temporary files; the files
 * already complete are still placed and their folders synced, so that what is under a real name
 * is always whole. */
std::unexpected<Error> Interrupted(Run* run, const RestoreOptions& opts) {
  std::int64_t done = 0;
  if (run) {
    if (run->group) run->group->Drain();
    if (!opts.dry_run) (void)SyncDirtyDirs(*run);  // the interruption is what gets reported
    std::lock_guard lock(run->mu);
    done = run->stats.restored;
  }
  return Fail(ErrorKind::kCancelled, "restore interrupted: stopped after restoring " +
                                         std::to_string(done) + " files; " + opts.dir.string() +
                                         " is incomplete and holds no partial file");
}

}  // namespace

Result<RestoreStats> RunRestore(Remote& remote, const Filter& filter, const RestoreOptions& opts,
                                Clock& clock) {
  auto t0 = clock.Mono();
  ListingFeed feed(remote, "", 2, opts.stop);
  std::optional<Target> target;
  Md5Of md5_of = [&](const LocalFile& f) { return LocalMd5(opts.dir, f); };
  while (auto page = feed.Next()) {
    if (!target && std::all_of(page->begin(), page->end(), IsRootMarker)) continue;
    if (!target) {
      auto t = PrepareTarget(remote, filter, opts);
      if (!t) return std::unexpected(t.error());
      target.emplace(std::move(*t));
    }
    Run& run = *target->run;
    RestorePlan plan = ResolveStats(run, *page, target->tree, filter, md5_of);
    {
      // The group commit's thread records the files of earlier pages meanwhile.
      std::lock_guard lock(run.mu);
      CountPlan(plan, *page, run.stats, opts.dry_run);
    }
    if (opts.dry_run) {
      PrintDryRun(plan);
    } else {
      Execute(run, *page, plan);
    }
    if (run.abort || opts.stop.stop_requested()) break;
  }
  if (opts.stop.stop_requested()) return Interrupted(target ? target->run.get() : nullptr, opts);
  if (Status listed = feed.Result(); !listed && !(target && target->run->abort)) {
    if (feed.PagesDelivered() == 0 && listed.error().kind == ErrorKind::kNoSuchBucket &&
        opts.allow_missing_bucket) {
      if (auto ok = CreateDir(opts); !ok) return std::unexpected(ok.error());
      return RestoreStats{.first_deployment = true};
    }
    return std::unexpected(ListingError(listed.error(), opts));
  }
  if (!target) {
    if (auto ok = CreateDir(opts); !ok) return std::unexpected(ok.error());
    return RestoreStats{.first_deployment = true};
  }
  Run& run = *target->run;
  if (run.group) run.group->Drain();
  if (!opts.dry_run && !run.fatal) {
    if (auto ok = SyncDirtyDirs(run); !ok) return std::unexpected(ok.error());
  }
  run.stats.seconds = std::chrono::duration<double>(clock.Mono() - t0).count();
  if (run.fatal) return std::unexpected(*run.fatal);
  return run.stats;
}

}  // namespace cfgsync

#include "watch/sidecar.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/fs.h"
#include "core/log.h"
#include "core/text.h"
#include "watch/app_processes.h"
#include "watch/coalescer.h"
#include "watch/inotify_watcher.h"

namespace cfgsync {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr Millis kGuardRecheck{30'000};      // how often held-back deletions are looked at again
constexpr Millis kRootPoll{250};             // how often a missing --dir is looked for
constexpr Millis kHousekeeping{5'000};       // --dir's identity, unwatched folders
constexpr Millis kIncompleteRescan{60'000};  // full rescans while some folder has no watch
/* Retries while the remote fails: short for outages (everything arrives within seconds of the
 * remote's return), long for refusals that only a person can cure (a policy, a quota). */
constexpr Millis kMaxOutageBackoff{5'000};
constexpr Millis kMaxRefusalBackoff{120'000};
// Retries of a local file that cannot be read: a chmod/chown event retries at once.
constexpr Millis kMaxLocalBackoff{300'000};
constexpr std::size_t kShutdownNames = 5;

struct Job {
  enum class Kind { kPush, kRemove, kReconcile } kind;
  std::vector<std::string> rels;
  MonoTime submitted{};
  bool probe = false;  // sent while the remote was failing
};

struct JobResult {
  Job job;
  Result<PushStats> outcome;
};

std::int64_t MonoMs(MonoTime t) {
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// The remote error a job's outcome carries, if any (a failed reconcile's uploads included);
// local files at fault are not the remote's.
std::optional<Error> RemoteFailure(const Result<PushStats>& outcome) {
  if (outcome) return outcome->remote_error;
  switch (outcome.error().kind) {
    case ErrorKind::kChanged:
    case ErrorKind::kNotFound:
    case ErrorKind::kIo:
    case ErrorKind::kUnreadable:
    case ErrorKind::kInvalidArgument:
      return std::nullopt;
    default:
      return outcome.error();
  }
}

// Identity of a folder, to notice it being replaced (a new folder or a mount over it).
struct DirId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const DirId&) const = default;
};

std::optional<DirId> IdOf(const std::filesystem::path& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return DirId{st.st_dev, st.st_ino};
}

}  // namespace

struct Sidecar::Impl {
  Impl(Pusher& p, const Filter& f, SidecarOptions o, SidecarState& s)
      : pusher(p),
        filter(f),
        opts(std::move(o)),
        state(s),
        coalescer(opts.debounce, opts.max_delay) {}

  Pusher& pusher;
  const Filter& filter;
  SidecarOptions opts;
  SidecarState& state;
  RealClock& clock = RealClock::Get();
  Coalescer coalescer;
  std::unique_ptr<InotifyWatcher> watcher;
  std::optional<DirId> root_id;
  UniqueFd epoll, timer, done_event, ping;
  int signal_fd = -1;

  // Worker pool.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;
  std::vector<JobResult> results;
  bool stop_workers = false;
  std::vector<std::thread> workers;
  bool workers_joined = false;
  int jobs_in_flight = 0;

  // Scheduling of what is not a per-path change.
  bool reconcile_running = false;
  bool stopping = false;
  std::optional<MonoTime> reconcile_at;
  std::optional<MonoTime> watcher_retry_at;
  MonoTime housekeeping_at{};
  bool root_missing_said = false;  // the error line for a missing --dir was logged
  bool root_lost = false;          // --dir went away or was replaced while watched
  int failures_in_a_row = 0;
  int outages_in_a_row = 0;          // of failures_in_a_row: network, 5xx, throttling
  int refusals_in_a_row = 0;         // of failures_in_a_row: the rest (403, missing bucket...)
  std::optional<MonoTime> probe_at;  // while the remote fails: when to try it again
  bool probe_in_flight = false;
  MonoTime remote_back_at{};  // when the remote last came back after an outage
  std::optional<MonoTime> reconcile_failing_since;
  int reconcile_failures = 0;  // failed reconciles in a row (one warn line per streak)
  std::map<std::string, int> local_failures;  // unreadable files: attempts so far
  bool owner_hint_said = false;
  std::string guard_reason;
  /* The guard is tripped while some removal it held back is still wanted: such paths leave
   * this set when they are deleted after all, or uploaded again because the files came back. */
  std::set<std::string> held_back;
  std::int64_t reconcile_held = 0;

  // Shutdown.
  std::optional<MonoTime> stop_requested;  // when SIGTERM arrived
  MonoTime last_fs_event{};
  AppProcesses app;

  void UpdateGuard();
  Status Setup(int signal);
  // Reads a ready descriptor of the loop and acts on it; every level-triggered descriptor in
  // the epoll set is read here, so that no wait returns at once for an event left unread.
  void HandleEvent(int fd, MonoTime now);
  void StartWorkers();
  void Worker();
  void Submit(Job job);
  void OpenWatcher(MonoTime now);
  void DropWatcher();
  void LoseRoot(MonoTime now);
  void Housekeeping(MonoTime now);
  void OnFsEvents(MonoTime now);
  void Apply(const std::vector<FsEvent>& events, MonoTime now);
  void OnResults(MonoTime now);
  void OnPushResult(const JobResult& r, MonoTime now);
  void OnRemoveResult(const JobResult& r, MonoTime now);
  void OnReconcileResult(const JobResult& r, MonoTime now);
  void ScheduleAfterReconcile(const PushStats& s, MonoTime now);
  void NoteRemote(const JobResult& r, MonoTime now);
  MonoTime Backoff(MonoTime now, const Error& e);
  MonoTime LocalBackoff(const std::string& rel, MonoTime now);
  void Dispatch(std::vector<DueChange> due, bool probe = false);
  void DispatchDue(MonoTime now);
  void DispatchProbe(MonoTime now);
  void ArmTimer(MonoTime now);
  void UpdateBehind();
  bool LingerDone(MonoTime now);
  int Shutdown();
  void JoinWorkers();
  void Drain(MonoTime deadline);
  // `unpushed`: changes still pending or in flight at the deadline.
  int Verdict(std::size_t unpushed);
};

Status Sidecar::Impl::Setup(int signal) {
  signal_fd = signal;
  epoll = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  timer = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  done_event = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll || !timer || !done_event || !ping) {
    return Fail(ErrorKind::kIo, std::string("event loop set-up failed: ") + std::strerror(errno));
  }
  for (int fd : {timer.get(), done_event.get(), ping.get(), signal_fd}) {
    epoll_event ev{EPOLLIN, {.fd = fd}};
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Fail(ErrorKind::kIo,
                  std::string("event loop set-up failed: epoll_ctl: ") + std::strerror(errno));
    }
  }
  return {};
}

void Sidecar::Impl::StartWorkers() {
  for (int i = 0; i < std::max(1, opts.transfers); ++i) workers.emplace_back([this] { Worker(); });
}

void Sidecar::Impl::Worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stop_workers || !jobs.empty(); });
      if (stop_workers) return;
      job = std::move(jobs.front());
      jobs.pop_front();
    }
    Result<PushStats> outcome = PushStats{};
    switch (job.kind) {
      case Job::Kind::kPush:
        outcome = pusher.PushPath(job.rels.front());
        break;
      case Job::Kind::kRemove:
        outcome = pusher.RemovePaths(job.rels, true);
        break;
      case Job::Kind::kReconcile:
        outcome = pusher.Reconcile(job.probe);
        break;
    }
    {
      std::lock_guard lock(mu);
      results.push_back(JobResult{std::move(job), std::move(outcome)});
    }
    std::uint64_t one = 1;
    (void)!::write(done_event.get(), &one, sizeof one);
  }
}

void Sidecar::Impl::Submit(Job job) {
  ++jobs_in_flight;
  if (job.probe) probe_in_flight = true;
  job.submitted = clock.Mono();
  if (job.kind == Job::Kind::kReconcile) reconcile_running = true;
  {
    std::lock_guard lock(mu);
    jobs.push_back(std::move(job));
  }
  cv.notify_one();
}

/* Watches --dir. While it is missing (a volume mounted late, an app that recreates its
 * folder) it is looked for every kRootPoll; once it is there again, a full reconcile compares
 * the new folder with the backup (deletions it infers stay under the guard). */
void Sidecar::Impl::OpenWatcher(MonoTime now) {
  auto w = InotifyWatcher::Open(opts.dir, filter);
  if (!w) {
    if (!root_missing_said && root_lost) {
      spdlog::error("{} disappeared: nothing is deleted from the backup; waiting for it ({})",
                    opts.dir.string(), w.error().message);
    } else if (!root_missing_said) {
      spdlog::error("cannot watch {}: {}; nothing is deleted from the backup while it is missing",
                    opts.dir.string(), w.error().message);
    }
    root_missing_said = true;
    watcher_retry_at = now + kRootPoll;
    return;
  }
  bool again = root_missing_said || root_lost;
  root_missing_said = false;
  root_lost = false;
  watcher_retry_at.reset();
  watcher = std::move(*w);
  root_id = IdOf(opts.dir);
  state.watching = true;
  epoll_event ev{EPOLLIN, {.fd = watcher->fd()}};
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, watcher->fd(), &ev) != 0) {
    /* Without its place in the loop the watch is useless: drop it and try again later, as
     * for a missing folder (the error is logged once). */
    spdlog::error("cannot watch {}: epoll_ctl: {}", opts.dir.string(), std::strerror(errno));
    watcher.reset();
    root_id.reset();
    root_missing_said = true;
    watcher_retry_at = now + kHousekeeping;
    return;
  }
  if (again) {
    spdlog::info("watching {} again; comparing it with the backup", opts.dir.string());
    reconcile_at = now;
  }
  OnFsEvents(now);  // problems found while adding the first watches
}

/* --dir is gone or is another folder now. Removals seen in the old folder are not applied: the
 * new one is compared with the backup as a whole, and what it lacks was never seen deleted, so
 * every such deletion is held (a volume lost and recreated empty looks just like this). */
void Sidecar::Impl::LoseRoot(MonoTime now) {
  DropWatcher();
  root_lost = true;  // say so if it is not there, and reconcile when it is
  for (const DueChange& d : coalescer.TakeRemovals()) coalescer.Done(d.rel, true, now);
  pusher.HoldInferredDeletions(opts.dir.string() +
                               " was replaced: deletions are held until `cfgsync sync "
                               "--allow-deletions` or a restart");
}

void Sidecar::Impl::DropWatcher() {
  if (!watcher) return;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, watcher->fd(), nullptr);
  watcher.reset();
  root_id.reset();
}

/* Every kHousekeeping: a --dir replaced without an event (a volume mounted over it) is
 * watched afresh, and folders without a watch are tried again and polled. */
void Sidecar::Impl::Housekeeping(MonoTime now) {
  housekeeping_at = now + kHousekeeping;
  if (!watcher) return;
  if (IdOf(opts.dir) != root_id) {
    spdlog::warn("{} was replaced; watching the new folder", opts.dir.string());
    LoseRoot(now);
    OpenWatcher(now);
    return;
  }
  if (watcher->UnwatchedDirs() > 0) {
    std::size_t before = watcher->UnwatchedDirs();
    Apply(watcher->RetryUnwatched(), now);
    if (watcher && watcher->UnwatchedDirs() < before) {
      /* A folder that could not be read may be readable now: a full pass finds out what it
       * holds and whether it is still a gap. */
      reconcile_at = now;
      if (watcher->UnwatchedDirs() == 0)
        spdlog::info("every folder is watched again ({} were not)", before);
    }
  }
}

void Sidecar::Impl::OnFsEvents(MonoTime now) { Apply(watcher->ReadEvents(), now); }

void Sidecar::Impl::Apply(const std::vector<FsEvent>& events, MonoTime now) {
  bool rescan = false;
  if (!events.empty()) last_fs_event = now;
  for (const FsEvent& e : events) {
    switch (e.kind) {
      case FsEvent::Kind::kChanged:
        coalescer.Touch(e.rel, ChangeKind::kChanged, now);
        break;
      case FsEvent::Kind::kRemoved:
        if (!e.detail.empty()) pusher.ReportSkipped(e.rel, e.detail);
        coalescer.Touch(e.rel, ChangeKind::kRemoved, now);
        break;
      case FsEvent::Kind::kRescan:
        spdlog::warn("full rescan: {}", e.detail);
        rescan = true;
        break;
    }
  }
  if (rescan) reconcile_at = now;
  if (watcher && watcher->RootLost()) {
    LoseRoot(now);
    OpenWatcher(now);
  }
  if (!watcher) return;
  state.watched_dirs = static_cast<std::int64_t>(watcher->WatchedDirs());
  state.unwatched_dirs = static_cast<std::int64_t>(watcher->UnwatchedDirs());
  if (!watcher->Complete() && (!reconcile_at || *reconcile_at > now + kIncompleteRescan)) {
    reconcile_at = now + kIncompleteRescan;
  }
}

/* Outages and refusals back off apart: a server coming back from an outage may refuse a
 * request or two (a bucket not there yet) without starting from the refusal's long wait. */
MonoTime Sidecar::Impl::Backoff(MonoTime now, const Error& e) {
  const bool outage = IsRetryable(e.kind);
  int& streak = outage ? outages_in_a_row : refusals_in_a_row;
  (outage ? refusals_in_a_row : outages_in_a_row) = 0;
  const int shift = std::clamp(streak++, 0, 20);
  const Millis cap = outage ? kMaxOutageBackoff : kMaxRefusalBackoff;
  return now + std::min<Millis>(cap, Millis(500LL << shift));
}

MonoTime Sidecar::Impl::LocalBackoff(const std::string& rel, MonoTime now) {
  int n = std::min(local_failures[rel]++, 20);
  return now + std::min<Millis>(kMaxLocalBackoff, Millis(1000LL << n));
}

/* One log line per outage: when the remote first fails, and when it works again. Workers run
 * side by side, so a job sent while the remote was down can report its failure after another
 * job has seen it come back; that late answer is about the past, not a new outage (were the
 * remote down again, the next job sent after the recovery would say so). While the remote
 * fails, work goes out as one probe at a time, at backoff intervals (DispatchProbe). */
void Sidecar::Impl::NoteRemote(const JobResult& r, MonoTime now) {
  std::optional<Error> failure = RemoteFailure(r.outcome);
  if (failure && r.job.submitted < remote_back_at) return;
  if (failure) {
    if (failures_in_a_row++ == 0) {
      spdlog::error("remote {}: {}; changes are kept and retried",
                    IsRetryable(failure->kind) ? "unavailable" : "refuses the request",
                    failure->message);
      state.remote_up = false;
      state.remote_down_since_ms = MonoMs(now);
    }
    probe_at = Backoff(now, *failure);
  } else if (r.outcome && r.outcome->reached_remote && failures_in_a_row > 0) {
    auto down = (MonoMs(now) - state.remote_down_since_ms.load()) / 1000.0;
    spdlog::info("remote is back after {:.1f}s; pushing {} pending changes", down,
                 coalescer.Pending());
    failures_in_a_row = outages_in_a_row = refusals_in_a_row = 0;
    probe_at.reset();
    remote_back_at = now;
    if (r.job.kind != Job::Kind::kReconcile) reconcile_at = now;  // objects may have been lost
    state.remote_up = true;
    state.remote_down_since_ms = 0;
  }
}

void Sidecar::Impl::OnPushResult(const JobResult& r, MonoTime now) {
  const std::string& rel = r.job.rels.front();
  if (r.outcome) {
    if (r.outcome->uploaded) {
      spdlog::info(WithFields("pushed", {{"path", rel}, {"bytes", r.outcome->bytes}}));
      ++state.uploads;
      state.uploaded_bytes += static_cast<std::int64_t>(r.outcome->bytes);
      state.last_push_unix = std::chrono::system_clock::to_time_t(clock.Wall());
      state.ObservePush(std::chrono::duration<double>(now - r.job.submitted).count());
    }
    local_failures.erase(rel);
    held_back.erase(rel);  // put back: its held-back removal is moot
    UpdateGuard();
    coalescer.Done(rel, true, now);
    return;
  }
  switch (r.outcome.error().kind) {
    case ErrorKind::kNotFound:  // gone again: its delete event follows
      local_failures.erase(rel);
      coalescer.Done(rel, true, now);
      return;
    case ErrorKind::kChanged:  // still being written: the final version follows
      spdlog::debug("{} changed while being read; retrying", rel);
      coalescer.Done(rel, false, now + opts.debounce);
      return;
    case ErrorKind::kInvalidArgument:  // a symlink, special file or bad name: in the gaps
      coalescer.Done(rel, true, now);
      return;
    case ErrorKind::kUnreadable:  // in the gaps; retried with backoff or on its chmod/chown
      coalescer.Defer(rel, LocalBackoff(rel, now));
      return;
    default:
      ++state.push_errors;
      coalescer.Done(rel, false, probe_at.value_or(now));
  }
}

void Sidecar::Impl::OnRemoveResult(const JobResult& r, MonoTime now) {
  // At shutdown a held-back deletion is dropped: the guard's answer cannot change by waiting.
  bool ok = r.outcome && (r.outcome->blocked_deletes == 0 || stopping);
  MonoTime retry = r.outcome ? now + kGuardRecheck : probe_at.value_or(now);
  if (r.outcome && r.outcome->blocked_deletes > 0) {
    if (guard_reason != r.outcome->guard_reason) {
      spdlog::error("deletion guard: {}; the backup is left untouched", r.outcome->guard_reason);
    }
    guard_reason = r.outcome->guard_reason;
    held_back.insert(r.job.rels.begin(), r.job.rels.end());
  } else if (!r.outcome) {
    ++state.delete_errors;
  } else {
    if (r.outcome->deleted) {
      spdlog::info(WithFields("deleted", {{"paths", r.job.rels}, {"objects", r.outcome->deleted}}));
    }
    state.deletes += r.outcome->deleted;
    for (const auto& rel : r.job.rels) held_back.erase(rel);
  }
  UpdateGuard();
  bool held = r.outcome && r.outcome->blocked_deletes > 0 && !stopping;
  for (const auto& rel : r.job.rels) {
    if (held) {
      coalescer.HoldBack(rel, retry);
    } else {
      coalescer.Done(rel, ok, retry);
    }
  }
}

void Sidecar::Impl::UpdateGuard() {
  bool tripped = !held_back.empty() || reconcile_held > 0;
  if (state.guard_tripped && !tripped) {
    spdlog::info("deletion guard cleared: no deletion is held back any more");
    guard_reason.clear();
  }
  state.guard_tripped = tripped;
  state.held_deletions = static_cast<std::int64_t>(held_back.size()) + reconcile_held;
  state.SetGuardReason(tripped ? guard_reason : "");
}

void Sidecar::Impl::OnReconcileResult(const JobResult& r, MonoTime now) {
  reconcile_running = false;
  /* reconcile_attempted is stored once the outcome (reconciled, the error count) is: whoever
   * sees it, readiness or a test, sees that outcome too. */
  if (!r.outcome) {
    ++state.reconcile_errors;
    if (!reconcile_failing_since) reconcile_failing_since = r.job.submitted;
    /* Retries follow the backoff; one line per streak of failures says it, not one per try. */
    if (reconcile_failures++ == 0) {
      spdlog::warn("reconcile failed: {}; retrying with backoff", r.outcome.error().message);
    } else {
      spdlog::debug("reconcile failed again ({} in a row): {}", reconcile_failures,
                    r.outcome.error().message);
    }
    reconcile_at = probe_at.value_or(now + opts.max_delay);
    state.reconcile_attempted = true;
    return;
  }
  const PushStats& s = *r.outcome;
  if (reconcile_failures > 0) {
    spdlog::info("reconcile works again after {} failed attempts", reconcile_failures);
    reconcile_failures = 0;
  }
  spdlog::info("reconcile: {}", SummaryLine(s));
  ++state.reconciles;
  if (s.remote_error) {
    ++state.reconcile_errors;
    if (!reconcile_failing_since) reconcile_failing_since = r.job.submitted;
  } else {
    state.reconciled = true;
    reconcile_failing_since.reset();
  }
  state.reconcile_attempted = true;
  if (!s.blocked_deletes) held_back.clear();  // the whole tree was compared: nothing waits
  reconcile_held = s.blocked_deletes;
  if (s.blocked_deletes) guard_reason = s.guard_reason;
  UpdateGuard();
  state.uploads += s.uploaded;
  state.uploaded_bytes += static_cast<std::int64_t>(s.bytes);
  state.deletes += s.deleted;
  state.push_errors += s.failed;
  if (s.uploaded > 0) state.last_push_unix = std::chrono::system_clock::to_time_t(clock.Wall());
  ScheduleAfterReconcile(s, now);
}

void Sidecar::Impl::ScheduleAfterReconcile(const PushStats& s, MonoTime now) {
  if (s.remote_error) {
    reconcile_at = probe_at.value_or(now + opts.max_delay);
  } else if (s.changed_while_read > 0) {
    reconcile_at = now + opts.max_delay;
  } else if (s.blocked_deletes > 0) {
    reconcile_at = now + kGuardRecheck;
  } else {
    reconcile_at = now + opts.interval;
  }
  if (watcher && !watcher->Complete())
    reconcile_at = std::min(*reconcile_at, now + kIncompleteRescan);
  /* Files the pass could not read are retried one by one (no listing), with their own backoff;
   * their chmod or chown retries them at once. */
  for (const Gap& g : pusher.gaps().List(100'000)) {
    if (g.reason != GapReason::kPermission && g.reason != GapReason::kIo) continue;
    if (g.rel.ends_with('/')) continue;  // a folder: polled by Housekeeping
    coalescer.RetryAt(g.rel, LocalBackoff(g.rel, now));
  }
  if (!owner_hint_said) {
    if (std::string hint = OwnerHint(opts.dir, pusher.gaps()); !hint.empty()) {
      spdlog::warn("{}", hint);
      owner_hint_said = true;
    }
  }
}

void Sidecar::Impl::OnResults(MonoTime now) {
  std::uint64_t n;
  (void)!::read(done_event.get(), &n, sizeof n);
  std::vector<JobResult> batch;
  {
    std::lock_guard lock(mu);
    batch.swap(results);
  }
  for (const auto& r : batch) {
    --jobs_in_flight;
    if (r.job.probe) probe_in_flight = false;
    NoteRemote(r, now);
    switch (r.job.kind) {
      case Job::Kind::kPush:
        OnPushResult(r, now);
        break;
      case Job::Kind::kRemove:
        OnRemoveResult(r, now);
        break;
      case Job::Kind::kReconcile:
        OnReconcileResult(r, now);
        break;
    }
  }
}

// Changed paths become one job each; removed paths go as one batch so that the deletion guard
// sees a mass deletion (a volume emptied) as a whole.
void Sidecar::Impl::Dispatch(std::vector<DueChange> due, bool probe) {
  if (!probe && std::any_of(due.begin(), due.end(),
                            [](const DueChange& d) { return d.kind == ChangeKind::kRemoved; })) {
    for (auto& d : coalescer.TakeRemovals()) due.push_back(std::move(d));
  }
  Job removals{Job::Kind::kRemove, {}};
  for (auto& d : due) {
    if (d.kind == ChangeKind::kRemoved) {
      removals.rels.push_back(std::move(d.rel));
    } else {
      Submit(Job{Job::Kind::kPush, {std::move(d.rel)}, {}, probe});
    }
  }
  if (!removals.rels.empty()) Submit(std::move(removals));
}

/* While the remote fails, one request at a time tells whether it is back: the reconcile when
 * one is due (it probes with a single upload), else one due path. Nothing else is sent, so an
 * outage or a refusing remote costs one request per backoff interval, not one per file. Jobs
 * sent before the outage may still be in flight; they do not hold the probe back. */
void Sidecar::Impl::DispatchProbe(MonoTime now) {
  if (probe_in_flight || (probe_at && now < *probe_at)) return;
  if (reconcile_at && *reconcile_at <= now && !reconcile_running) {
    reconcile_at.reset();
    Submit(Job{Job::Kind::kReconcile, {}, {}, true});
    return;
  }
  if (auto one = coalescer.TakeOneDue(now)) {
    std::vector<DueChange> due;
    due.push_back(std::move(*one));
    Dispatch(std::move(due), true);
  }
}

void Sidecar::Impl::DispatchDue(MonoTime now) {
  if (watcher_retry_at && *watcher_retry_at <= now) OpenWatcher(now);
  if (housekeeping_at <= now) Housekeeping(now);
  if (failures_in_a_row > 0) {
    DispatchProbe(now);
  } else {
    if (reconcile_at && *reconcile_at <= now && !reconcile_running) {
      reconcile_at.reset();
      Submit(Job{Job::Kind::kReconcile, {}});
    }
    Dispatch(coalescer.TakeDue(now));
  }
  state.pending = static_cast<std::int64_t>(coalescer.Pending());
  UpdateBehind();
}

void Sidecar::Impl::UpdateBehind() {
  std::optional<MonoTime> oldest = coalescer.OldestChange();
  if (reconcile_failing_since && (!oldest || *reconcile_failing_since < *oldest))
    oldest = reconcile_failing_since;
  state.behind_since_ms = oldest ? std::max<std::int64_t>(1, MonoMs(*oldest)) : 0;
}

void Sidecar::Impl::ArmTimer(MonoTime now) {
  std::optional<MonoTime> next = coalescer.NextDeadline();
  if (failures_in_a_row > 0 && next && probe_at) next = std::max(*next, *probe_at);
  std::optional<MonoTime> reconcile = reconcile_running ? std::nullopt : reconcile_at;
  if (reconcile && failures_in_a_row > 0 && probe_at) reconcile = std::max(*reconcile, *probe_at);
  std::optional<MonoTime> linger;
  if (stop_requested) linger = std::max(last_fs_event + opts.shutdown_quiet, now + Millis(100));
  for (const auto& t :
       {reconcile, watcher_retry_at, std::optional<MonoTime>(housekeeping_at), linger}) {
    if (t && (!next || *t < *next)) next = t;
  }
  itimerspec spec{};
  if (next) {
    auto ns =
        std::max<std::int64_t>(1, duration_cast<std::chrono::nanoseconds>(*next - now).count());
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
  }
  ::timerfd_settime(timer.get(), 0, &spec, nullptr);
}

/* After SIGTERM the app beside us (classic layout: it got the signal at the same moment) may
 * still be writing its last state. When the pod shares its process namespace we see the app's
 * processes and wait for them to exit: that is knowledge. Otherwise the folder being quiet for
 * shutdown_quiet is the best guess. Either way the shutdown timeout bounds the wait. */
bool Sidecar::Impl::LingerDone(MonoTime now) {
  const MonoTime deadline = *stop_requested + opts.shutdown_timeout;
  if (now >= deadline - std::min(opts.shutdown_timeout / 4, Millis(2'000))) return true;
  if (app.Visible()) {
    if (!app.Gone()) return false;
    spdlog::info("the app's processes have exited");
    return true;
  }
  bool quiet = now - last_fs_event >= opts.shutdown_quiet;
  return quiet && coalescer.Pending() == 0 && jobs_in_flight == 0 && !reconcile_running;
}

// Pushes everything pending at once, without debounce, until done or `deadline`.
void Sidecar::Impl::Drain(MonoTime deadline) {
  for (;;) {
    MonoTime now = clock.Mono();
    if (failures_in_a_row == 0) {
      Dispatch(coalescer.TakeAll());
    } else if (!probe_in_flight && (!probe_at || now >= *probe_at)) {
      auto all = coalescer.TakeAll();  // one probe; the rest waits for its answer
      for (std::size_t i = 1; i < all.size(); ++i) coalescer.Done(all[i].rel, false, now);
      if (!all.empty()) all.resize(1);
      Dispatch(std::move(all), true);
    }
    if (coalescer.Pending() == 0 && jobs_in_flight == 0) return;
    if (now >= deadline) return;
    auto left = duration_cast<milliseconds>(deadline - now).count();
    // Nothing in flight means the last attempts failed: pause before trying them again.
    int wait_ms = static_cast<int>(jobs_in_flight == 0 ? std::min<std::int64_t>(left, 250) : left);
    std::array<epoll_event, 8> events{};
    int n = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) return;  // the loop failed: logged by Run
    for (int i = 0; i < n; ++i)
      HandleEvent(events[static_cast<std::size_t>(i)].data.fd, clock.Mono());
  }
}

/* The exit code says what is true at exit: 0 only when every local file the filter includes
 * is in the backup with its current content and attributes (judged against what was stored,
 * without a request), and none is unprotected. */
int Sidecar::Impl::Verdict(std::size_t unpushed) {
  std::size_t count = 0;
  auto names = pusher.Unconfirmed(kShutdownNames, &count);
  if (!names) {
    spdlog::error("stopped: cannot check {}: {}", opts.dir.string(), names.error().message);
    return 1;
  }
  if (count > 0 || unpushed > 0) {
    std::string list;
    for (const auto& n : *names) list += (list.empty() ? "" : ", ") + Printable(n);
    spdlog::error("stopped: {} files are not in the backup with their current content{}{}{}",
                  std::max(count, unpushed), list.empty() ? "" : ": ", list,
                  count > names->size() ? ", ..." : "");
    return 1;
  }
  if (state.held_deletions > 0) {
    spdlog::info("stopped: every change is in the backup ({} deletions held back by the guard)",
                 state.held_deletions.load());
  } else {
    spdlog::info("stopped: every change is in the backup");
  }
  return 0;
}

int Sidecar::Impl::Shutdown() {
  MonoTime now = clock.Mono();
  stopping = true;
  if (watcher) OnFsEvents(now);  // the writes made just before the stop
  DropWatcher();
  spdlog::info("stopping: pushing {} pending changes", coalescer.Pending());
  Drain(*stop_requested + opts.shutdown_timeout);
  std::size_t left = coalescer.Pending();
  const int unfinished = jobs_in_flight;
  JoinWorkers();
  return Verdict(left > 0 || unfinished > 0 ? std::max<std::size_t>(left, 1) : 0);
}

/* No worker is left running past Run: a detached one would outlive the pusher and the remote
 * it uses. Queued jobs are dropped, a reconcile stops between files (Pusher::Cancel), and a
 * request under way ends within its own timeouts; its answer comes too late to count. */
void Sidecar::Impl::JoinWorkers() {
  if (workers_joined) return;
  workers_joined = true;
  {
    std::lock_guard lock(mu);
    stop_workers = true;
    jobs.clear();
  }
  cv.notify_all();
  pusher.Cancel();
  state.loop_stopping = true;
  if (jobs_in_flight > 0) {
    spdlog::info("waiting for {} requests under way to end (their timeouts bound the wait)",
                 jobs_in_flight);
  }
  for (auto& w : workers) {
    if (w.joinable()) w.join();
  }
}

void SidecarState::ObservePush(double seconds) {
  std::lock_guard lock(push_mu_);
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++push_.le[i];
  }
  ++push_.count;
  push_.sum_us += static_cast<std::int64_t>(seconds * 1e6);
}

SidecarState::PushHistogram SidecarState::PushLatency() const {
  std::lock_guard lock(push_mu_);
  return push_;
}

void SidecarState::SetGuardReason(std::string reason) {
  std::lock_guard lock(guard_mu_);
  guard_reason_ = std::move(reason);
}

std::string SidecarState::GuardReason() const {
  std::lock_guard lock(guard_mu_);
  return guard_reason_;
}

Sidecar::Sidecar(Pusher& pusher, const Filter& filter, SidecarOptions opts, SidecarState& state)
    : impl_(std::make_unique<Impl>(pusher, filter, std::move(opts), state)) {
  impl_->ping = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
}

int Sidecar::ping_fd() const { return impl_->ping.get(); }

Sidecar::~Sidecar() { impl_->JoinWorkers(); }

Result<int> Sidecar::BlockStopSignals() {
  sigset_t set;
  if (sigemptyset(&set) != 0 || sigaddset(&set, SIGTERM) != 0 || sigaddset(&set, SIGINT) != 0) {
    return Fail(ErrorKind::kIo, std::string("sigaddset: ") + std::strerror(errno));
  }
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return Fail(ErrorKind::kIo, std::string("cannot block SIGTERM and SIGINT: pthread_sigmask: ") +
                                    std::strerror(err));
  }
  int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    return Fail(ErrorKind::kIo, std::string("cannot receive SIGTERM and SIGINT: signalfd: ") +
                                    std::strerror(errno));
  }
  return fd;
}

void Sidecar::Impl::HandleEvent(int fd, MonoTime now) {
  if (fd == signal_fd) {
    signalfd_siginfo info{};
    /* A pipe stands in for the signalfd in tests; its end of file must not be read forever. */
    const ssize_t got = ::read(signal_fd, &info, sizeof info);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
      ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, signal_fd, nullptr);
    }
    if (!stop_requested) {
      spdlog::info("received signal {}; stopping once {} has been quiet for {}s", info.ssi_signo,
                   opts.dir.string(), opts.shutdown_quiet.count() / 1000.0);
      stop_requested = now;
      last_fs_event = now;
      app.Snapshot();
    }
  } else if (watcher && fd == watcher->fd()) {
    OnFsEvents(now);
  } else if (fd == done_event.get()) {
    OnResults(now);
  } else if (fd == ping.get() || fd == timer.get()) {
    std::uint64_t count = 0;
    (void)!::read(fd, &count, sizeof count);
  }
  state.loop_turn_ms = std::max<std::int64_t>(1, MonoMs(now));
}

int Sidecar::Run(int signal_fd) {
  Impl& d = *impl_;
  if (auto ok = d.Setup(signal_fd); !ok) {
    spdlog::error("{}", ok.error().message);
    return 1;
  }
  d.StartWorkers();
  d.state.loop_started = true;
  MonoTime now = d.clock.Mono();
  d.housekeeping_at = now + kHousekeeping;
  d.OpenWatcher(now);  // before the first reconcile, so that no change slips between the two
  d.reconcile_at = now;
  d.state.loop_turn_ms = std::max<std::int64_t>(1, MonoMs(now));
  std::array<epoll_event, 16> events{};
  for (;;) {
    if (d.stop_requested && d.LingerDone(now)) break;
    d.DispatchDue(now);
    d.ArmTimer(now);
    int n = ::epoll_wait(d.epoll.get(), events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno != EINTR) {
      spdlog::error("event loop failed: epoll_wait: {}; stopping", std::strerror(errno));
      if (!d.stop_requested) d.stop_requested = d.clock.Mono();
      break;
    }
    now = d.clock.Mono();
    for (int i = 0; i < n; ++i) d.HandleEvent(events[static_cast<std::size_t>(i)].data.fd, now);
  }
  return d.Shutdown();
}

}  // namespace cfgsync

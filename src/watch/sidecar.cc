#include "watch/sidecar.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/fs.h"
#include "core/log.h"
#include "watch/coalescer.h"
#include "watch/inotify_watcher.h"

namespace cfgsync {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr Millis kGuardRecheck{30'000};      // how often held-back deletions are looked at again
constexpr Millis kWatcherRetry{5'000};       // how often a missing --dir is looked for
constexpr Millis kIncompleteRescan{60'000};  // full rescans while some folder has no watch
// Retries of pushes while the remote is down: short enough that everything arrives within a
// few seconds of its return (a reconcile then also restores objects the outage lost).
constexpr Millis kMaxBackoff{5'000};

struct Job {
  enum class Kind { kPush, kRemove, kReconcile } kind;
  std::vector<std::string> rels;
  MonoTime submitted{};
};

struct JobResult {
  Job job;
  Result<PushStats> outcome;
};

std::int64_t MonoMs(MonoTime t) {
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
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
  UniqueFd epoll, timer, done_event, ping;
  std::map<int, std::function<void()>> extra_fds;

  // Worker pool.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;
  std::vector<JobResult> results;
  bool stop_workers = false;
  std::vector<std::thread> workers;
  int jobs_in_flight = 0;

  // Scheduling of what is not a per-path change.
  bool reconcile_running = false;
  bool stopping = false;
  std::optional<MonoTime> reconcile_at;
  std::optional<MonoTime> watcher_retry_at;
  int failures_in_a_row = 0;
  MonoTime remote_back_at{};  // when the remote last came back after an outage
  std::string guard_reason;
  /* The guard is tripped while some removal it held back is still wanted: such paths leave
   * this set when they are deleted after all, or uploaded again because the files came back. */
  std::set<std::string> held_back;
  bool reconcile_held_back = false;

  void UpdateGuard();

  Status Setup();
  void StartWorkers();
  void Worker();
  void Submit(Job job);
  void OpenWatcher(MonoTime now);
  void OnFsEvents(MonoTime now);
  void OnResults(MonoTime now);
  void OnPushResult(const JobResult& r, MonoTime now);
  void OnRemoveResult(const JobResult& r, MonoTime now);
  void OnReconcileResult(const JobResult& r, MonoTime now);
  void NoteRemote(const JobResult& r, MonoTime now);
  MonoTime Backoff(MonoTime now) const;
  void Dispatch(std::vector<DueChange> due);
  void DispatchDue(MonoTime now);
  void ArmTimer(MonoTime now);
  int Shutdown();
  void Drain(MonoTime deadline);
};

Status Sidecar::Impl::Setup() {
  epoll = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  timer = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  done_event = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll || !timer || !done_event) return Fail(ErrorKind::kIo, "event loop set-up failed");
  for (int fd : {timer.get(), done_event.get(), ping.get()}) {
    epoll_event ev{EPOLLIN, {.fd = fd}};
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  for (const auto& [fd, cb] : extra_fds) {
    epoll_event ev{EPOLLIN, {.fd = fd}};
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev);
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
        outcome = pusher.RemovePaths(job.rels);
        break;
      case Job::Kind::kReconcile:
        outcome = pusher.Reconcile();
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
  job.submitted = clock.Mono();
  if (job.kind == Job::Kind::kReconcile) reconcile_running = true;
  {
    std::lock_guard lock(mu);
    jobs.push_back(std::move(job));
  }
  cv.notify_one();
}

// Watches --dir; while it is missing (volume not mounted yet), looks again every few seconds.
void Sidecar::Impl::OpenWatcher(MonoTime now) {
  auto w = InotifyWatcher::Open(opts.dir, filter);
  if (!w) {
    if (!watcher_retry_at)
      spdlog::error("cannot watch {}: {}; retrying every 5s", opts.dir.string(), w.error().message);
    watcher_retry_at = now + kWatcherRetry;
    return;
  }
  if (watcher_retry_at) spdlog::info("watching {} again", opts.dir.string());
  watcher_retry_at.reset();
  watcher = std::move(*w);
  epoll_event ev{EPOLLIN, {.fd = watcher->fd()}};
  ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, watcher->fd(), &ev);
  OnFsEvents(now);  // problems found while adding the first watches
}

void Sidecar::Impl::OnFsEvents(MonoTime now) {
  bool rescan = false;
  for (const FsEvent& e : watcher->ReadEvents()) {
    switch (e.kind) {
      case FsEvent::Kind::kChanged:
        coalescer.Touch(e.rel, ChangeKind::kChanged, now);
        break;
      case FsEvent::Kind::kRemoved:
        if (!e.detail.empty()) pusher.WarnSkipped(e.rel, e.detail);
        coalescer.Touch(e.rel, ChangeKind::kRemoved, now);
        break;
      case FsEvent::Kind::kRescan:
        spdlog::warn("full rescan: {}", e.detail);
        rescan = true;
        break;
    }
  }
  state.watched_dirs = static_cast<std::int64_t>(watcher->WatchedDirs());
  if (rescan && !std::filesystem::is_directory(opts.dir)) {
    ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, watcher->fd(), nullptr);
    watcher.reset();
    spdlog::error("{} disappeared: nothing is deleted from the backup; waiting for it",
                  opts.dir.string());
    watcher_retry_at = now + kWatcherRetry;
  }
  if (rescan) reconcile_at = now;
  if (watcher && !watcher->Complete() &&
      (!reconcile_at || *reconcile_at > now + kIncompleteRescan)) {
    reconcile_at = now + kIncompleteRescan;
  }
}

MonoTime Sidecar::Impl::Backoff(MonoTime now) const {
  auto ms =
      std::min<std::int64_t>(kMaxBackoff.count(), 250LL << std::min(failures_in_a_row / 8, 10));
  return now + Millis(ms);
}

/* One log line per outage: when the remote first fails, and when it works again. Workers run
 * side by side, so a job sent while the remote was down can report its failure after another
 * job has seen it come back; that late answer is about the past, not a new outage (were the
 * remote down again, the next job sent after the recovery would say so). */
void Sidecar::Impl::NoteRemote(const JobResult& r, MonoTime now) {
  const Result<PushStats>& outcome = r.outcome;
  bool failed = !outcome && outcome.error().kind != ErrorKind::kChanged &&
                outcome.error().kind != ErrorKind::kNotFound &&
                outcome.error().kind != ErrorKind::kIo;
  if (failed && r.job.submitted < remote_back_at) return;
  if (failed) {
    if (failures_in_a_row++ == 0) {
      spdlog::error("remote unavailable: {}; changes are kept and retried",
                    outcome.error().message);
      state.remote_up = false;
      state.remote_down_since_ms = MonoMs(now);
    }
  } else if (outcome && outcome->reached_remote && failures_in_a_row > 0) {
    auto down = (MonoMs(now) - state.remote_down_since_ms.load()) / 1000.0;
    spdlog::info("remote is back after {:.1f}s; pushing {} pending changes", down,
                 coalescer.Pending());
    failures_in_a_row = 0;
    remote_back_at = now;
    reconcile_at = now;  // the remote may have lost objects (a server restored from nothing)
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
    held_back.erase(rel);  // put back: its held-back removal is moot
    UpdateGuard();
    coalescer.Done(rel, true, now);
    return;
  }
  switch (r.outcome.error().kind) {
    case ErrorKind::kNotFound:  // gone again: its delete event follows
      coalescer.Done(rel, true, now);
      return;
    case ErrorKind::kChanged:  // still being written: the final version follows
      spdlog::debug("{} changed while being read; retrying", rel);
      coalescer.Done(rel, false, now + opts.debounce);
      return;
    case ErrorKind::kInvalidArgument:  // turned into a symlink or special file
      pusher.WarnSkipped(rel, r.outcome.error().message);
      coalescer.Done(rel, true, now);
      return;
    default:
      ++state.push_errors;
      coalescer.Done(rel, false, Backoff(now));
  }
}

void Sidecar::Impl::OnRemoveResult(const JobResult& r, MonoTime now) {
  // At shutdown a held-back deletion is dropped: the guard's answer cannot change by waiting.
  bool ok = r.outcome && (r.outcome->blocked_deletes == 0 || stopping);
  MonoTime retry = r.outcome ? now + kGuardRecheck : Backoff(now);
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
  bool tripped = !held_back.empty() || reconcile_held_back;
  if (state.guard_tripped && !tripped) {
    spdlog::info("deletion guard cleared: no deletion is held back any more");
    guard_reason.clear();
  }
  state.guard_tripped = tripped;
}

void Sidecar::Impl::OnReconcileResult(const JobResult& r, MonoTime now) {
  reconcile_running = false;
  if (!r.outcome) {
    ++state.reconcile_errors;
    spdlog::debug("reconcile failed: {}", r.outcome.error().message);
    reconcile_at = Backoff(now);
    return;
  }
  const PushStats& s = *r.outcome;
  spdlog::info("reconcile: {}", SummaryLine(s));
  ++state.reconciles;
  state.reconciled = true;
  reconcile_held_back = s.blocked_deletes > 0;
  if (!reconcile_held_back) held_back.clear();  // the whole tree was compared: nothing waits
  UpdateGuard();
  state.uploads += s.uploaded;
  state.uploaded_bytes += static_cast<std::int64_t>(s.bytes);
  state.deletes += s.deleted;
  state.push_errors += s.failed;
  if (s.uploaded > 0) state.last_push_unix = std::chrono::system_clock::to_time_t(clock.Wall());
  bool again = s.failed > 0 || s.changed_while_read > 0 || s.blocked_deletes > 0;
  reconcile_at =
      again ? now + (s.blocked_deletes ? kGuardRecheck : opts.max_delay) : now + opts.interval;
  if (s.failed > 0) reconcile_at = Backoff(now);
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
void Sidecar::Impl::Dispatch(std::vector<DueChange> due) {
  if (std::any_of(due.begin(), due.end(),
                  [](const DueChange& d) { return d.kind == ChangeKind::kRemoved; })) {
    for (auto& d : coalescer.TakeRemovals()) due.push_back(std::move(d));
  }
  Job removals{Job::Kind::kRemove, {}};
  for (auto& d : due) {
    if (d.kind == ChangeKind::kRemoved) {
      removals.rels.push_back(std::move(d.rel));
    } else {
      Submit(Job{Job::Kind::kPush, {std::move(d.rel)}});
    }
  }
  if (!removals.rels.empty()) Submit(std::move(removals));
}

void Sidecar::Impl::DispatchDue(MonoTime now) {
  if (watcher_retry_at && *watcher_retry_at <= now) OpenWatcher(now);
  if (reconcile_at && *reconcile_at <= now && !reconcile_running) {
    reconcile_at.reset();
    Submit(Job{Job::Kind::kReconcile, {}});
  }
  // While the remote is down, only the retry deadlines release work (no request per event).
  Dispatch(coalescer.TakeDue(now));
  state.pending = static_cast<std::int64_t>(coalescer.Pending());
}

void Sidecar::Impl::ArmTimer(MonoTime now) {
  std::optional<MonoTime> next = coalescer.NextDeadline();
  for (const auto& t : {reconcile_running ? std::nullopt : reconcile_at, watcher_retry_at}) {
    if (t && (!next || *t < *next)) next = t;
  }
  itimerspec spec{};
  if (next) {
    auto ns =
        std::max<std::int64_t>(1, duration_cast<std::chrono::nanoseconds>(*next - now).count());
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
  }
  ::timerfd_settime(timer.get(), 0, &spec, nullptr);  // all zero disarms: idle costs nothing
}

// Pushes everything pending at once, without debounce, until done or `deadline`.
void Sidecar::Impl::Drain(MonoTime deadline) {
  for (;;) {
    MonoTime now = clock.Mono();
    Dispatch(coalescer.TakeAll());
    if (coalescer.Pending() == 0 && jobs_in_flight == 0) return;
    if (now >= deadline) return;
    auto left = duration_cast<milliseconds>(deadline - now).count();
    // Nothing in flight means the last attempts failed: pause before trying them again.
    int wait_ms = static_cast<int>(jobs_in_flight == 0 ? std::min<std::int64_t>(left, 250) : left);
    epoll_event ev;
    int n = ::epoll_wait(epoll.get(), &ev, 1, wait_ms);
    if (n > 0 && ev.data.fd == done_event.get()) OnResults(clock.Mono());
  }
}

int Sidecar::Impl::Shutdown() {
  MonoTime now = clock.Mono();
  stopping = true;
  if (watcher) OnFsEvents(now);  // the writes made just before the signal
  if (watcher) ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, watcher->fd(), nullptr);
  watcher.reset();
  spdlog::info("stopping: pushing {} pending changes (timeout {}s)", coalescer.Pending(),
               opts.shutdown_timeout.count() / 1000.0);
  Drain(now + opts.shutdown_timeout);
  std::size_t left = coalescer.Pending();
  {
    std::lock_guard lock(mu);
    stop_workers = true;
  }
  cv.notify_all();
  // A worker still inside a request cannot be interrupted: leave it to process exit.
  for (auto& w : workers) {
    if (jobs_in_flight == 0) {
      w.join();
    } else {
      w.detach();
    }
  }
  if (left == 0 && jobs_in_flight == 0) {
    spdlog::info("stopped: every change is in the backup");
    return 0;
  }
  spdlog::error("stopped with {} changes not pushed", std::max<std::size_t>(left, 1));
  return 1;
}

void SidecarState::ObservePush(double seconds) {
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++push_le[i];
  }
  ++push_count;
  push_sum_us += static_cast<std::int64_t>(seconds * 1e6);
}

Sidecar::Sidecar(Pusher& pusher, const Filter& filter, SidecarOptions opts, SidecarState& state)
    : impl_(std::make_unique<Impl>(pusher, filter, std::move(opts), state)) {
  impl_->ping = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
}

int Sidecar::ping_fd() const { return impl_->ping.get(); }

Sidecar::~Sidecar() {
  if (!impl_->workers.empty() && impl_->workers.front().joinable()) {
    {
      std::lock_guard lock(impl_->mu);
      impl_->stop_workers = true;
    }
    impl_->cv.notify_all();
    for (auto& w : impl_->workers) {
      if (w.joinable()) w.join();
    }
  }
}

void Sidecar::AddFd(int fd, std::function<void()> on_readable) {
  impl_->extra_fds[fd] = std::move(on_readable);
}

int Sidecar::BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int Sidecar::Run(int signal_fd) {
  Impl& d = *impl_;
  if (auto ok = d.Setup(); !ok) {
    spdlog::error("{}", ok.error().message);
    return 1;
  }
  epoll_event sev{EPOLLIN, {.fd = signal_fd}};
  ::epoll_ctl(d.epoll.get(), EPOLL_CTL_ADD, signal_fd, &sev);
  d.StartWorkers();
  d.state.loop_started = true;
  MonoTime now = d.clock.Mono();
  d.OpenWatcher(now);  // before the first reconcile, so that no change slips between the two
  d.reconcile_at = now;
  for (bool stop = false; !stop;) {
    d.DispatchDue(now);
    d.ArmTimer(now);
    epoll_event events[16];
    int n = ::epoll_wait(d.epoll.get(), events, 16, -1);
    now = d.clock.Mono();
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == signal_fd) {
        signalfd_siginfo info;
        (void)!::read(signal_fd, &info, sizeof info);
        spdlog::info("received signal {}", info.ssi_signo);
        stop = true;
      } else if (d.watcher && fd == d.watcher->fd()) {
        d.OnFsEvents(now);
      } else if (fd == d.done_event.get()) {
        d.OnResults(now);
      } else if (fd == d.ping.get()) {
        std::uint64_t pings;
        (void)!::read(fd, &pings, sizeof pings);
        ++d.state.loop_acks;
      } else if (fd == d.timer.get()) {
        std::uint64_t ticks;
        (void)!::read(fd, &ticks, sizeof ticks);
      } else if (auto it = d.extra_fds.find(fd); it != d.extra_fds.end()) {
        it->second();
      }
    }
  }
  return d.Shutdown();
}

}  // namespace cfgsync

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
#include "watch/sidecar_impl.h"

namespace cfgsync {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::optional<DirId> IdOf(const std::filesystem::path& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return DirId{st.st_dev, st.st_ino};
}

}  // namespace

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

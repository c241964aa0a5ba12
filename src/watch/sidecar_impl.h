// The sidecar's inside, shared by the files that implement it: sidecar.cc (the event loop,
// the watch and dispatch), sidecar_workers.cc (the worker pool and what its results change),
// sidecar_guard.cc (the deletions the guard holds back), sidecar_shutdown.cc (stopping).
// Not for use outside src/watch/.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/fs.h"
#include "watch/app_processes.h"
#include "watch/coalescer.h"
#include "watch/inotify_watcher.h"
#include "watch/outage_policy.h"
#include "watch/sidecar.h"

namespace cfgsync {

inline constexpr Millis kGuardRecheck{30'000};  // how often held-back deletions are looked at again
inline constexpr Millis kRootPoll{250};         // how often a missing --dir is looked for
inline constexpr Millis kHousekeeping{5'000};   // --dir's identity, unwatched folders
inline constexpr Millis kIncompleteRescan{60'000};  // full rescans while some folder has no watch
inline constexpr std::size_t kShutdownNames = 5;

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

// Steady-clock milliseconds of `t`, as SidecarState holds them.
inline std::int64_t MonoMs(MonoTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Identity of a folder, to notice it being replaced (a new folder or a mount over it).
struct DirId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const DirId&) const = default;
};

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
  OutagePolicy backoff;              // of the remote, and of files that cannot be read
  std::optional<MonoTime> probe_at;  // while the remote fails: when to try it again
  bool probe_in_flight = false;
  MonoTime remote_back_at{};  // when the remote last came back after an outage
  std::optional<MonoTime> reconcile_failing_since;
  int reconcile_failures = 0;  // failed reconciles in a row (one warn line per streak)
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

}  // namespace cfgsync

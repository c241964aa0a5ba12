// What operators see: readiness verdicts and the Prometheus exposition, computed from the
// process state and a report of the sidecar's figures (pure functions, so they are tested
// without a server).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "sync/gaps.h"

namespace cfgsync {

// Where the process is in its life.
enum class Phase : int { kRestoring = 0, kStarting = 1, kWatching = 2, kStopping = 3 };

// Everything the HTTP endpoints read. Shared between the main thread and the server thread.
struct ProcessState {
  std::atomic<Phase> phase{Phase::kStarting};
  std::atomic<std::int64_t> restore_files{0};
  std::atomic<std::int64_t> restore_bytes{0};
  std::atomic<std::int64_t> restore_rejected{0};
  std::atomic<int> ping_fd{-1};  // the sidecar loop's health ping; -1 before the loop exists
  std::atomic<const Gaps*> gaps{nullptr};  // the pusher's, once it exists
};

/* The sidecar's figures as plain values, read once per request by the layer that owns the
 * sidecar: the endpoints are fed, they never reach into the sidecar, and every line of one
 * answer comes from the same reading. Times are steady-clock ms (0: never), except
 * last_push_unix (wall-clock seconds). */
struct SidecarReport {
  bool reconciled = false;           // the first full reconcile succeeded
  bool reconcile_attempted = false;  // the first full reconcile has ended, either way
  bool watching = false;             // --dir has been watched
  bool guard_tripped = false;        // the deletion guard holds deletions back
  std::string guard_reason;          // why it does ("" when it does not)
  std::int64_t held_deletions = 0;
  bool remote_up = true;  // the remote's latest answer to a write (or a listing) was a success
  std::int64_t remote_down_since_ms = 0;  // 0 while up
  std::int64_t pending = 0;
  std::int64_t watched_dirs = 0;
  std::int64_t unwatched_dirs = 0;
  std::int64_t behind_since_ms = 0;  // the oldest change not yet in the backup; 0 when none
  std::int64_t uploads = 0;
  std::int64_t uploaded_bytes = 0;
  std::int64_t deletes = 0;
  std::int64_t push_errors = 0;
  std::int64_t delete_errors = 0;
  std::int64_t reconcile_errors = 0;
  std::int64_t reconciles = 0;
  std::int64_t last_push_unix = 0;
  bool loop_started = false;
  std::int64_t loop_turn_ms = 0;  // the event loop's latest turn
  bool loop_stopping = false;     // the loop has ended: shutdown joins the workers

  // Push latency as a cumulative histogram: le[i] counts pushes of at most bounds[i] seconds
  // (le has the size of bounds).
  struct Histogram {
    std::vector<double> bounds;
    std::vector<std::int64_t> le;
    std::int64_t count = 0;
    std::int64_t sum_us = 0;
  };
  Histogram push_latency;
};

// What /readyz answers for.
enum class ReadinessMode {
  kStartup,  // the app may start: restore done, watches set, first reconcile attempted
  kBackup,   // also: the backup is being kept (no guard holding, no long remote outage)
};

// Parses --readiness ("startup" or "backup"); kConfig naming the flag otherwise.
Result<ReadinessMode> ParseReadinessMode(std::string_view text);

struct Readiness {
  bool ready;
  std::string reason;  // one line
};

// kStartup: ready once the restore (for `run`) is done and the first reconcile has been
// attempted (it ran after the watches were set), whatever the remote answered: the app must
// not leave its Service because the backup has trouble; that shows on /metrics and /status.
// kBackup adds: not ready while the deletion guard holds deletions back, or while the remote
// has been failing for longer than `max_outage`.
Readiness CheckReady(const ProcessState& state, const SidecarReport& sidecar, MonoTime now,
                     Millis max_outage, ReadinessMode mode = ReadinessMode::kStartup);

// The event loop turns at least every 5 s (housekeeping); this long without a turn, it is stuck.
inline constexpr Millis kLoopStall{15'000};

// What /healthz answers, from the state alone (no waiting): healthy before the sidecar loop
// starts (restore in progress: the process is alive) and once it has stopped, and otherwise
// while the loop's latest turn is less than kLoopStall old.
Readiness CheckHealth(const ProcessState& state, const SidecarReport& sidecar, MonoTime now);

// The Prometheus text exposition (version 0.0.4) of `state` and `sidecar` at `now`. Labels never
// carry a key or a secret.
std::string RenderMetrics(const ProcessState& state, const SidecarReport& sidecar,
                          MonoTime now = RealClock::Get().Mono());

// The JSON document of /status: phase, readiness, remote, pending changes, how far behind the
// backup is, unprotected files (the first 100), unwatched folders, the guard.
std::string RenderStatus(const ProcessState& state, const SidecarReport& sidecar, MonoTime now,
                         const Readiness& ready, ReadinessMode mode);

}  // namespace cfgsync

// What operators see: readiness verdicts and the Prometheus exposition, computed from the
// process state (pure functions, so they are tested without a server).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/clock.h"
#include "sync/gaps.h"
#include "watch/sidecar.h"

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
  SidecarState sidecar;
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
Readiness CheckReady(const ProcessState& state, MonoTime now, Millis max_outage,
                     ReadinessMode mode = ReadinessMode::kStartup);

// The event loop turns at least every 5 s (housekeeping); this long without a turn, it is stuck.
inline constexpr Millis kLoopStall{15'000};

// What /healthz answers, from the state alone (no waiting): healthy before the sidecar loop
// starts (restore in progress: the process is alive) and once it has stopped, and otherwise
// while the loop's latest turn is less than kLoopStall old.
Readiness CheckHealth(const ProcessState& state, MonoTime now);

// The Prometheus text exposition (version 0.0.4) of `state` at `now`. Labels never carry a key
// or a secret.
std::string RenderMetrics(const ProcessState& state, MonoTime now = RealClock::Get().Mono());

// The JSON document of /status: phase, readiness, remote, pending changes, how far behind the
// backup is, unprotected files (the first 100), unwatched folders, the guard.
std::string RenderStatus(const ProcessState& state, MonoTime now, const Readiness& ready,
                         ReadinessMode mode);

}  // namespace cfgsync

// What operators see: readiness verdicts and the Prometheus exposition, computed from the
// process state (pure functions, so they are tested without a server).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/clock.h"
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
  SidecarState sidecar;
};

struct Readiness {
  bool ready;
  std::string reason;  // one line
};

// Ready once the restore (for `run`) and the first reconcile are done and while pushes succeed;
// not ready while the deletion guard holds deletions back, or while the remote has been failing
// for longer than `max_outage`.
Readiness CheckReady(const ProcessState& state, MonoTime now, Millis max_outage);

// The Prometheus text exposition (version 0.0.4) of `state`. Labels never carry a key or a
// secret.
std::string RenderMetrics(const ProcessState& state);

}  // namespace cfgsync

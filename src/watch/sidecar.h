// `cfgsync watch`: the real-time sidecar. One event loop (epoll over inotify, signalfd and
// timerfds) feeds a coalescer; due changes are pushed by a pool of workers, so the loop never
// waits on the network and events arriving during an upload are queued, never dropped.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "remote/remote.h"
#include "sync/filter.h"
#include "sync/push.h"

namespace cfgsync {

struct SidecarOptions {
  std::filesystem::path dir;
  Millis debounce{500};
  Millis max_delay{5'000};
  Millis interval{3'600'000};  // full reconcile as a safety net
  Millis shutdown_timeout{20'000};
  // After SIGTERM, keep watching and pushing until the folder has been quiet this long (the
  // app beside us got the same signal and may still be writing); 0 stops at once.
  Millis shutdown_quiet{0};
  int transfers = 16;
};

// What the sidecar exposes to health checks and metrics. Written by the sidecar, read by
// anyone (all fields are atomics).
struct SidecarState {
  std::atomic<bool> reconciled{false};           // the first full reconcile succeeded
  std::atomic<bool> reconcile_attempted{false};  // the first full reconcile has ended, either way
  std::atomic<bool> watching{false};             // --dir has been watched (set once)
  std::atomic<bool> guard_tripped{false};        // the deletion guard holds deletions back
  std::atomic<std::int64_t> held_deletions{0};   // deletions the guard holds back
  // The remote's latest answer to a write (before any write: to a listing) was a success.
  std::atomic<bool> remote_up{true};
  std::atomic<std::int64_t> remote_down_since_ms{0};  // steady-clock ms; 0 while up
  std::atomic<std::int64_t> pending{0};
  std::atomic<std::int64_t> watched_dirs{0};
  std::atomic<std::int64_t> unwatched_dirs{0};  // folders without a watch (polled instead)
  // Steady-clock ms of the oldest change not yet in the backup; 0 when none.
  std::atomic<std::int64_t> behind_since_ms{0};
  std::atomic<std::int64_t> uploads{0};
  std::atomic<std::int64_t> uploaded_bytes{0};
  std::atomic<std::int64_t> deletes{0};
  std::atomic<std::int64_t> push_errors{0};
  std::atomic<std::int64_t> delete_errors{0};
  std::atomic<std::int64_t> reconcile_errors{0};
  std::atomic<std::int64_t> reconciles{0};
  std::atomic<std::int64_t> last_push_unix{0};  // wall-clock seconds of the last successful push
  std::atomic<bool> loop_started{false};
  // Steady-clock ms of the event loop's latest turn (it turns at least every 5 s); /healthz
  // reads it without waiting on the loop.
  std::atomic<std::int64_t> loop_turn_ms{0};
  std::atomic<bool> loop_stopping{false};  // the loop has ended: shutdown joins the workers

  // Push latency (a due change handed to a worker → stored), as a cumulative histogram.
  static constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10};
  struct PushHistogram {
    std::array<std::int64_t, kBuckets.size()> le{};  // cumulative: le[i] counts <= kBuckets[i]
    std::int64_t count = 0;
    std::int64_t sum_us = 0;
  };
  // Records one push latency.
  void ObservePush(double seconds);
  // The histogram as one consistent snapshot: buckets never decrease and the last one never
  // exceeds count.
  PushHistogram PushLatency() const;

  // Why the guard holds deletions back ("" when it does not).
  void SetGuardReason(std::string reason);
  std::string GuardReason() const;

 private:
  mutable std::mutex guard_mu_;
  std::string guard_reason_;
  mutable std::mutex push_mu_;
  PushHistogram push_;
};

class Sidecar {
 public:
  // `state` must outlive the sidecar; health checks and metrics read it from other threads.
  Sidecar(Pusher& pusher, const Filter& filter, SidecarOptions opts, SidecarState& state);
  ~Sidecar();

  // Blocks SIGTERM and SIGINT in the calling thread (do it before any other thread starts, so
  // that every thread inherits the mask) and returns the signalfd that Run() will wait on.
  // Error (kIo, naming the call that failed): the mask or the signalfd could not be set up.
  static Result<int> BlockStopSignals();

  // Reconciles, then watches until SIGTERM/SIGINT arrives on `signal_fd`; then keeps watching
  // until the folder has been quiet for opts.shutdown_quiet (or the app's processes are gone,
  // when the pod shares its process namespace), pushes every pending change at once (no
  // debounce), all within opts.shutdown_timeout of the signal. Then asks the pusher to start
  // no new file and joins every worker: one still inside a request ends within that request's
  // own timeouts. Returns the exit code: 0 when every local file the filter includes is in the
  // backup as it is now, 1 when not (the log names the first ones).
  int Run(int signal_fd);

  // A descriptor that, written to (eventfd semantics), makes the loop turn at once and update
  // state.loop_turn_ms.
  int ping_fd() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cfgsync

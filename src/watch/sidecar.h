// `cfgsync watch`: the real-time sidecar. One event loop (epoll over inotify, signalfd and
// timerfds) feeds a coalescer; due changes are pushed by a pool of workers, so the loop never
// waits on the network and events arriving during an upload are queued, never dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>

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
  int transfers = 16;
};

// What the sidecar exposes to health checks and metrics. Written by the sidecar, read by
// anyone (all fields are atomics).
struct SidecarState {
  std::atomic<bool> reconciled{false};                // the first full reconcile succeeded
  std::atomic<bool> guard_tripped{false};             // the deletion guard holds deletions back
  std::atomic<bool> remote_up{true};                  // the last remote operation succeeded
  std::atomic<std::int64_t> remote_down_since_ms{0};  // steady-clock ms; 0 while up
  std::atomic<std::int64_t> pending{0};
  std::atomic<std::int64_t> watched_dirs{0};
  std::atomic<std::int64_t> uploads{0};
  std::atomic<std::int64_t> uploaded_bytes{0};
  std::atomic<std::int64_t> deletes{0};
  std::atomic<std::int64_t> push_errors{0};
  std::atomic<std::int64_t> reconciles{0};
  std::atomic<std::int64_t> last_push_unix{0};  // wall-clock seconds of the last successful push
};

class Sidecar {
 public:
  Sidecar(Pusher& pusher, const Filter& filter, SidecarOptions opts);
  ~Sidecar();

  // Blocks SIGTERM and SIGINT in the calling thread (do it before any other thread starts, so
  // that every thread inherits the mask) and returns the signalfd that Run() will wait on.
  static int BlockStopSignals();

  // Reconciles, then watches until SIGTERM/SIGINT arrives on `signal_fd`; then pushes every
  // pending change at once (no debounce) within the shutdown timeout. Returns the exit code:
  // 0 when everything pending was pushed, 1 when not.
  int Run(int signal_fd);

  // Live state for health checks and metrics.
  const SidecarState& state() const { return state_; }
  // Adds `fd` to the event loop before Run(): `on_readable` runs on the loop thread whenever
  // it is readable. Lets another component (the HTTP server) share the loop; it must not block.
  void AddFd(int fd, std::function<void()> on_readable);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SidecarState state_;
};

}  // namespace cfgsync

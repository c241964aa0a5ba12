#include "cli/sidecar_report.h"

namespace cfgsync::cli {

SidecarReport ReportOf(const SidecarState& state) {
  SidecarReport r;
  r.reconciled = state.reconciled;
  r.reconcile_attempted = state.reconcile_attempted;
  r.watching = state.watching;
  r.guard_tripped = state.guard_tripped;
  r.guard_reason = state.GuardReason();
  r.held_deletions = state.held_deletions;
  r.remote_up = state.remote_up;
  r.remote_down_since_ms = state.remote_down_since_ms;
  r.pending = state.pending;
  r.watched_dirs = state.watched_dirs;
  r.unwatched_dirs = state.unwatched_dirs;
  r.behind_since_ms = state.behind_since_ms;
  r.uploads = state.uploads;
  r.uploaded_bytes = state.uploaded_bytes;
  r.deletes = state.deletes;
  r.push_errors = state.push_errors;
  r.delete_errors = state.delete_errors;
  r.reconcile_errors = state.reconcile_errors;
  r.reconciles = state.reconciles;
  r.last_push_unix = state.last_push_unix;
  r.loop_started = state.loop_started;
  r.loop_turn_ms = state.loop_turn_ms;
  r.loop_stopping = state.loop_stopping;
  const SidecarState::PushHistogram h = state.PushLatency();
  r.push_latency.bounds.assign(SidecarState::kBuckets.begin(), SidecarState::kBuckets.end());
  r.push_latency.le.assign(h.le.begin(), h.le.end());
  r.push_latency.count = h.count;
  r.push_latency.sum_us = h.sum_us;
  return r;
}

}  // namespace cfgsync::cli

#include <spdlog/spdlog.h>

#include "core/log.h"
#include "watch/sidecar_impl.h"

namespace cfgsync {

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

}  // namespace cfgsync

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "core/log.h"
#include "watch/sidecar_impl.h"

namespace cfgsync {
namespace {

// The remote error a job's outcome carries, if any (a failed reconcile's uploads included);
// local files at fault are not the remote's.
std::optional<Error> RemoteFailure(const Result<PushStats>& outcome) {
  if (outcome) return outcome->remote_error;
  switch (outcome.error().kind) {
    case ErrorKind::kChanged:
    case ErrorKind::kNotFound:
    case ErrorKind::kIo:
    case ErrorKind::kUnreadable:
    case ErrorKind::kInvalidArgument:
      return std::nullopt;
    default:
      return outcome.error();
  }
}

}  // namespace

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
        outcome = pusher.RemovePaths(job.rels, true);
        break;
      case Job::Kind::kReconcile:
        outcome = pusher.Reconcile(job.probe);
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
  if (job.probe) probe_in_flight = true;
  job.submitted = clock.Mono();
  if (job.kind == Job::Kind::kReconcile) reconcile_running = true;
  {
    std::lock_guard lock(mu);
    jobs.push_back(std::move(job));
  }
  cv.notify_one();
}

/* No worker is left running past Run: a detached one would outlive the pusher and the remote
 * it uses. Queued jobs are dropped, a reconcile stops between files (Pusher::Cancel), and a
 * request under way ends within its own timeouts; its answer comes too late to count. */
void Sidecar::Impl::JoinWorkers() {
  if (workers_joined) return;
  workers_joined = true;
  {
    std::lock_guard lock(mu);
    stop_workers = true;
    jobs.clear();
  }
  cv.notify_all();
  pusher.Cancel();
  state.loop_stopping = true;
  if (jobs_in_flight > 0) {
    spdlog::info("waiting for {} requests under way to end (their timeouts bound the wait)",
                 jobs_in_flight);
  }
  for (auto& w : workers) {
    if (w.joinable()) w.join();
  }
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
    if (r.job.probe) probe_in_flight = false;
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

/* One log line per outage: when the remote first fails, and when it works again. Workers run
 * side by side, so a job sent while the remote was down can report its failure after another
 * job has seen it come back; that late answer is about the past, not a new outage (were the
 * remote down again, the next job sent after the recovery would say so). While the remote
 * fails, work goes out as one probe at a time, at backoff intervals (DispatchProbe). */
void Sidecar::Impl::NoteRemote(const JobResult& r, MonoTime now) {
  std::optional<Error> failure = RemoteFailure(r.outcome);
  if (failure && r.job.submitted < remote_back_at) return;
  if (failure) {
    if (failures_in_a_row++ == 0) {
      spdlog::error("remote {}: {}; changes are kept and retried",
                    IsRetryable(failure->kind) ? "unavailable" : "refuses the request",
                    failure->message);
      state.remote_up = false;
      state.remote_down_since_ms = MonoMs(now);
    }
    probe_at = backoff.AfterRemoteFailure(now, *failure);
  } else if (r.outcome && r.outcome->reached_remote && failures_in_a_row > 0) {
    auto down = (MonoMs(now) - state.remote_down_since_ms.load()) / 1000.0;
    spdlog::info("remote is back after {:.1f}s; pushing {} pending changes", down,
                 coalescer.Pending());
    failures_in_a_row = 0;
    backoff.RemoteBack();
    probe_at.reset();
    remote_back_at = now;
    if (r.job.kind != Job::Kind::kReconcile) reconcile_at = now;  // objects may have been lost
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
    backoff.LocalDone(rel);
    held_back.erase(rel);  // put back: its held-back removal is moot
    UpdateGuard();
    coalescer.Done(rel, true, now);
    return;
  }
  switch (r.outcome.error().kind) {
    case ErrorKind::kNotFound:  // gone again: its delete event follows
      backoff.LocalDone(rel);
      coalescer.Done(rel, true, now);
      return;
    case ErrorKind::kChanged:  // still being written: the final version follows
      spdlog::debug("{} changed while being read; retrying", rel);
      coalescer.Done(rel, false, now + opts.debounce);
      return;
    case ErrorKind::kInvalidArgument:  // a symlink, special file or bad name: in the gaps
      coalescer.Done(rel, true, now);
      return;
    case ErrorKind::kUnreadable:  // in the gaps; retried with backoff or on its chmod/chown
      coalescer.Defer(rel, backoff.AfterLocalFailure(rel, now));
      return;
    default:
      ++state.push_errors;
      coalescer.Done(rel, false, probe_at.value_or(now));
  }
}

void Sidecar::Impl::OnReconcileResult(const JobResult& r, MonoTime now) {
  reconcile_running = false;
  /* reconcile_attempted is stored once the outcome (reconciled, the error count) is: whoever
   * sees it, readiness or a test, sees that outcome too. */
  if (!r.outcome) {
    ++state.reconcile_errors;
    if (!reconcile_failing_since) reconcile_failing_since = r.job.submitted;
    /* Retries follow the backoff; one line per streak of failures says it, not one per try. */
    if (reconcile_failures++ == 0) {
      spdlog::warn("reconcile failed: {}; retrying with backoff", r.outcome.error().message);
    } else {
      spdlog::debug("reconcile failed again ({} in a row): {}", reconcile_failures,
                    r.outcome.error().message);
    }
    reconcile_at = probe_at.value_or(now + opts.max_delay);
    state.reconcile_attempted = true;
    return;
  }
  const PushStats& s = *r.outcome;
  if (reconcile_failures > 0) {
    spdlog::info("reconcile works again after {} failed attempts", reconcile_failures);
    reconcile_failures = 0;
  }
  spdlog::info("reconcile: {}", SummaryLine(s));
  ++state.reconciles;
  if (s.remote_error) {
    ++state.reconcile_errors;
    if (!reconcile_failing_since) reconcile_failing_since = r.job.submitted;
  } else {
    state.reconciled = true;
    reconcile_failing_since.reset();
  }
  state.reconcile_attempted = true;
  if (!s.blocked_deletes) held_back.clear();  // the whole tree was compared: nothing waits
  reconcile_held = s.blocked_deletes;
  if (s.blocked_deletes) guard_reason = s.guard_reason;
  UpdateGuard();
  state.uploads += s.uploaded;
  state.uploaded_bytes += static_cast<std::int64_t>(s.bytes);
  state.deletes += s.deleted;
  state.push_errors += s.failed;
  if (s.uploaded > 0) state.last_push_unix = std::chrono::system_clock::to_time_t(clock.Wall());
  ScheduleAfterReconcile(s, now);
}

void Sidecar::Impl::ScheduleAfterReconcile(const PushStats& s, MonoTime now) {
  if (s.remote_error) {
    reconcile_at = probe_at.value_or(now + opts.max_delay);
  } else if (s.changed_while_read > 0) {
    reconcile_at = now + opts.max_delay;
  } else if (s.blocked_deletes > 0) {
    reconcile_at = now + kGuardRecheck;
  } else {
    reconcile_at = now + opts.interval;
  }
  if (watcher && !watcher->Complete())
    reconcile_at = std::min(*reconcile_at, now + kIncompleteRescan);
  /* Files the pass could not read are retried one by one (no listing), with their own backoff;
   * their chmod or chown retries them at once. */
  for (const Gap& g : pusher.gaps().List(100'000)) {
    if (g.reason != GapReason::kPermission && g.reason != GapReason::kIo) continue;
    if (g.rel.ends_with('/')) continue;  // a folder: polled by Housekeeping
    coalescer.RetryAt(g.rel, backoff.AfterLocalFailure(g.rel, now));
  }
  if (!owner_hint_said) {
    if (std::string hint = OwnerHint(opts.dir, pusher.gaps()); !hint.empty()) {
      spdlog::warn("{}", hint);
      owner_hint_said = true;
    }
  }
}

}  // namespace cfgsync

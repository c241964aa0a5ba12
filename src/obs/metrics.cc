#include "obs/metrics.h"

#include <fmt/format.h>

namespace cfgsync {
namespace {

void Metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value, std::string_view labels = "") {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}{} {}\n", name, help, name, type, name, labels,
                     value);
}

void PushHistogram(std::string& out, const SidecarState& s) {
  constexpr std::string_view kName = "cfgsync_push_duration_seconds";
  out += fmt::format("# HELP {} Time from a change being due to it being stored.\n", kName);
  out += fmt::format("# TYPE {} histogram\n", kName);
  for (std::size_t i = 0; i < SidecarState::kBuckets.size(); ++i) {
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", kName, SidecarState::kBuckets[i],
                       s.push_le[i].load());
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", kName, s.push_count.load());
  out += fmt::format("{}_sum {}\n", kName, static_cast<double>(s.push_sum_us.load()) / 1e6);
  out += fmt::format("{}_count {}\n", kName, s.push_count.load());
}

}  // namespace

Readiness CheckReady(const ProcessState& state, MonoTime now, Millis max_outage) {
  const SidecarState& s = state.sidecar;
  switch (state.phase.load()) {
    case Phase::kRestoring:
      return {false, "restore in progress"};
    case Phase::kStopping:
      return {false, "shutting down"};
    default:
      break;
  }
  if (!s.reconciled) return {false, "first reconcile not done yet"};
  if (s.guard_tripped) return {false, "deletion guard tripped: deletions are held back"};
  std::int64_t since = s.remote_down_since_ms;
  if (!s.remote_up && since > 0) {
    auto down = std::chrono::duration_cast<Millis>(now.time_since_epoch()).count() - since;
    if (down > max_outage.count()) {
      return {false, fmt::format("remote failing for {}s", down / 1000)};
    }
  }
  return {true, "ok"};
}

std::string RenderMetrics(const ProcessState& state) {
  const SidecarState& s = state.sidecar;
  std::string out;
  Metric(out, "cfgsync_build_info", "gauge", "Build information.", 1,
         fmt::format("{{version=\"{}\"}}", CFGSYNC_VERSION));
  Metric(out, "cfgsync_uploads_total", "counter", "Files uploaded.", s.uploads.load());
  Metric(out, "cfgsync_uploaded_bytes_total", "counter", "Bytes uploaded.",
         s.uploaded_bytes.load());
  Metric(out, "cfgsync_deletes_total", "counter", "Objects deleted.", s.deletes.load());
  out += "# HELP cfgsync_errors_total Failed operations.\n# TYPE cfgsync_errors_total counter\n";
  out += fmt::format("cfgsync_errors_total{{operation=\"push\"}} {}\n", s.push_errors.load());
  out += fmt::format("cfgsync_errors_total{{operation=\"delete\"}} {}\n", s.delete_errors.load());
  out += fmt::format("cfgsync_errors_total{{operation=\"reconcile\"}} {}\n",
                     s.reconcile_errors.load());
  Metric(out, "cfgsync_reconciles_total", "counter", "Full reconciles done.", s.reconciles.load());
  Metric(out, "cfgsync_pending_changes", "gauge", "Changes waiting to be pushed.",
         s.pending.load());
  Metric(out, "cfgsync_watched_folders", "gauge", "Folders with an inotify watch.",
         s.watched_dirs.load());
  Metric(out, "cfgsync_last_push_timestamp_seconds", "gauge",
         "Unix time of the last successful push (0: none yet).", s.last_push_unix.load());
  PushHistogram(out, s);
  Metric(out, "cfgsync_restore_files_total", "counter", "Files restored at start.",
         state.restore_files.load());
  Metric(out, "cfgsync_restore_bytes_total", "counter", "Bytes restored at start.",
         state.restore_bytes.load());
  Metric(out, "cfgsync_restore_rejected_keys_total", "counter",
         "Unsafe keys refused by the restore.", state.restore_rejected.load());
  Metric(out, "cfgsync_deletion_guard_tripped", "gauge",
         "1 while the deletion guard holds deletions back.", s.guard_tripped ? 1 : 0);
  Metric(out, "cfgsync_remote_up", "gauge", "1 while the remote answers.", s.remote_up ? 1 : 0);
  return out;
}

}  // namespace cfgsync

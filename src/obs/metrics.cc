#include "obs/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <nlohmann/json.hpp>

namespace cfgsync {
namespace {

void Metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value, std::string_view labels = "") {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}{} {}\n", name, help, name, type, name, labels,
                     value);
}

void PushHistogram(std::string& out, const SidecarReport::Histogram& h) {
  constexpr std::string_view kName = "cfgsync_push_duration_seconds";
  out += fmt::format("# HELP {} Time from a change being due to it being stored.\n", kName);
  out += fmt::format("# TYPE {} histogram\n", kName);
  for (std::size_t i = 0; i < h.bounds.size() && i < h.le.size(); ++i) {
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", kName, h.bounds[i], h.le[i]);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", kName, h.count);
  out += fmt::format("{}_sum {}\n", kName, static_cast<double>(h.sum_us) / 1e6);
  out += fmt::format("{}_count {}\n", kName, h.count);
}

double BehindSeconds(const SidecarReport& s, MonoTime now) {
  std::int64_t since = s.behind_since_ms;
  if (since <= 0) return 0;
  auto ms = std::chrono::duration_cast<Millis>(now.time_since_epoch()).count() - since;
  return std::max<double>(0, static_cast<double>(ms) / 1000.0);
}

void LocalErrors(std::string& out, const Gaps* gaps) {
  out +=
      "# HELP cfgsync_local_errors_total Local files that became impossible to back up, by "
      "reason.\n# TYPE cfgsync_local_errors_total counter\n";
  std::array<std::int64_t, kGapReasons> counts{};
  if (gaps) counts = gaps->ErrorCounts();
  for (std::size_t i = 0; i < kGapReasons; ++i) {
    out += fmt::format("cfgsync_local_errors_total{{reason=\"{}\"}} {}\n",
                       GapReasonName(static_cast<GapReason>(i)), counts[i]);
  }
}

std::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kRestoring:
      return "restoring";
    case Phase::kStarting:
      return "starting";
    case Phase::kWatching:
      return "watching";
    case Phase::kStopping:
      return "stopping";
  }
  return "starting";
}

}  // namespace

Result<ReadinessMode> ParseReadinessMode(std::string_view text) {
  if (text == "startup") return ReadinessMode::kStartup;
  if (text == "backup") return ReadinessMode::kBackup;
  return Fail(ErrorKind::kConfig,
              "--readiness: want startup or backup, not \"" + std::string(text) + "\"");
}

Readiness CheckReady(const ProcessState& state, const SidecarReport& s, MonoTime now,
                     Millis max_outage, ReadinessMode mode) {
  switch (state.phase.load()) {
    case Phase::kRestoring:
      return {false, "restore in progress"};
    case Phase::kStopping:
      return {false, "shutting down"};
    default:
      break;
  }
  if (!s.watching) return {false, "waiting for the folder to watch"};
  if (!s.reconcile_attempted) return {false, "first reconcile not done yet"};
  if (mode == ReadinessMode::kStartup) return {true, "ok"};
  if (!s.reconciled) return {false, "first reconcile failed"};
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

Readiness CheckHealth(const ProcessState& state, const SidecarReport& s, MonoTime now) {
  if (state.ping_fd.load() < 0 || !s.loop_started) return {true, "ok (loop not started)"};
  if (s.loop_stopping) return {true, "ok (stopping)"};
  const std::int64_t turn = s.loop_turn_ms;
  const auto idle = std::chrono::duration_cast<Millis>(now.time_since_epoch()).count() - turn;
  if (turn > 0 && idle > kLoopStall.count()) {
    return {false, fmt::format("event loop not responding for {}s", idle / 1000)};
  }
  return {true, "ok"};
}

std::string RenderMetrics(const ProcessState& state, const SidecarReport& s, MonoTime now) {
  std::string out;
  Metric(out, "cfgsync_build_info", "gauge", "Build information.", 1,
         fmt::format("{{version=\"{}\"}}", CFGSYNC_VERSION));
  Metric(out, "cfgsync_uploads_total", "counter", "Files uploaded.", s.uploads);
  Metric(out, "cfgsync_uploaded_bytes_total", "counter", "Bytes uploaded.", s.uploaded_bytes);
  Metric(out, "cfgsync_deletes_total", "counter", "Objects deleted.", s.deletes);
  out += "# HELP cfgsync_errors_total Failed operations.\n# TYPE cfgsync_errors_total counter\n";
  out += fmt::format("cfgsync_errors_total{{operation=\"push\"}} {}\n", s.push_errors);
  out += fmt::format("cfgsync_errors_total{{operation=\"delete\"}} {}\n", s.delete_errors);
  out += fmt::format("cfgsync_errors_total{{operation=\"reconcile\"}} {}\n", s.reconcile_errors);
  Metric(out, "cfgsync_reconciles_total", "counter", "Full reconciles done.", s.reconciles);
  Metric(out, "cfgsync_pending_changes", "gauge", "Changes waiting to be pushed.", s.pending);
  Metric(out, "cfgsync_watched_folders", "gauge", "Folders with an inotify watch.", s.watched_dirs);
  Metric(out, "cfgsync_last_push_timestamp_seconds", "gauge",
         "Unix time of the last successful push (0: none yet).", s.last_push_unix);
  PushHistogram(out, s.push_latency);
  Metric(out, "cfgsync_restore_files_total", "counter", "Files restored at start.",
         state.restore_files.load());
  Metric(out, "cfgsync_restore_bytes_total", "counter", "Bytes restored at start.",
         state.restore_bytes.load());
  Metric(out, "cfgsync_restore_rejected_keys_total", "counter",
         "Unsafe keys refused by the restore.", state.restore_rejected.load());
  Metric(out, "cfgsync_deletion_guard_tripped", "gauge",
         "1 while the deletion guard holds deletions back.", s.guard_tripped ? 1 : 0);
  Metric(out, "cfgsync_remote_up", "gauge",
         "1 while the remote's latest answer to a write (before any: a listing) was a success.",
         s.remote_up ? 1 : 0);
  Metric(out, "cfgsync_held_deletions", "gauge", "Deletions the guard holds back.",
         s.held_deletions);
  const Gaps* gaps = state.gaps.load();
  Metric(out, "cfgsync_unprotected_files", "gauge",
         "Files (and folders) to back up that cfgsync cannot read or store.",
         gaps ? static_cast<double>(gaps->Count()) : 0);
  LocalErrors(out, gaps);
  Metric(out, "cfgsync_unwatched_folders", "gauge",
         "Folders without an inotify watch (polled every 5s instead).", s.unwatched_dirs);
  Metric(out, "cfgsync_backup_behind_seconds", "gauge",
         "Age of the oldest change not yet in the backup (0: none).", BehindSeconds(s, now));
  return out;
}

std::string RenderStatus(const ProcessState& state, const SidecarReport& s, MonoTime now,
                         const Readiness& ready, ReadinessMode mode) {
  const Gaps* gaps = state.gaps.load();
  nlohmann::json unprotected = nlohmann::json::array();
  if (gaps) {
    for (const Gap& g : gaps->List(100)) {
      unprotected.push_back(
          {{"path", g.rel}, {"reason", GapReasonName(g.reason)}, {"error", g.detail}});
    }
  }
  nlohmann::json doc = {{"phase", PhaseName(state.phase.load())},
                        {"ready", ready.ready},
                        {"ready_reason", ready.reason},
                        {"readiness", mode == ReadinessMode::kStartup ? "startup" : "backup"},
                        {"remote_up", s.remote_up},
                        {"pending", s.pending},
                        {"backup_behind_seconds", BehindSeconds(s, now)},
                        {"unprotected_files", gaps ? gaps->Count() : 0},
                        {"unprotected", std::move(unprotected)},
                        {"unwatched_folders", s.unwatched_dirs},
                        {"guard",
                         {{"holding", s.guard_tripped},
                          {"reason", s.guard_reason},
                          {"held_deletions", s.held_deletions}}},
                        {"last_push_unix", s.last_push_unix},
                        {"reconciles", s.reconciles}};
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace cfgsync

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "cli/common.h"
#include "core/duration.h"
#include "core/fs.h"
#include "core/log.h"
#include "sync/push.h"

namespace cfgsync::cli {

void AddWatchFlags(CLI::App& cmd, WatchFlags& flags) {
  AddFlag(cmd, "debounce", flags.debounce, "push a change after this much quiet");
  AddFlag(cmd, "max-delay", flags.max_delay,
          "push a change at the latest this long after it began");
  AddFlag(cmd, "interval", flags.interval, "full reconcile this often, as a safety net");
  AddFlag(cmd, "shutdown-timeout", flags.shutdown_timeout,
          "on SIGTERM, time allowed to push what is pending");
  AddFlag(cmd, "max-delete", flags.max_delete, "a pass deleting more than N or N% deletes nothing");
  AddOptionalFlag(cmd, "http-addr", flags.http_addr,
                  "serve /healthz, /readyz, /metrics and /status on HOST:PORT (\"\" turns it off)");
  AddFlag(cmd, "ready-max-outage", flags.ready_max_outage,
          "with --readiness backup: /readyz fails once the remote has been failing this long");
  AddFlag(cmd, "readiness", flags.readiness,
          "what /readyz answers for: startup (restore done, watching; default) or backup (also "
          "no guard holding, no long outage)");
  AddFlag(cmd, "shutdown-quiet", flags.shutdown_quiet,
          "after SIGTERM, keep pushing until the folder has been quiet this long (0: stop at "
          "once)");
}

Result<WatchSetup> ParseWatchFlags(const WatchFlags& flags, const FolderFlags& folder,
                                   int transfers) {
  WatchSetup w;
  SidecarOptions& o = w.sidecar;
  o.dir = folder.dir;
  o.transfers = transfers;
  struct Item {
    const std::string& text;
    const char* flag;
    Millis* out;
  };
  for (const Item& i : {Item{flags.debounce, "--debounce", &o.debounce},
                        Item{flags.max_delay, "--max-delay", &o.max_delay},
                        Item{flags.interval, "--interval", &o.interval},
                        Item{flags.shutdown_timeout, "--shutdown-timeout", &o.shutdown_timeout},
                        Item{flags.shutdown_quiet, "--shutdown-quiet", &o.shutdown_quiet},
                        Item{flags.ready_max_outage, "--ready-max-outage", &w.ready_max_outage}}) {
    auto d = ParseDuration(i.text, i.flag);
    if (!d) return std::unexpected(d.error());
    *i.out = *d;
  }
  if (o.interval < Millis(1000)) return Fail(ErrorKind::kConfig, "--interval must be at least 1s");
  auto guard = ParseDeleteGuard(flags.max_delete);
  if (!guard) return std::unexpected(guard.error());
  w.guard = *guard;
  w.http_addr = flags.http_addr;
  auto mode = ParseReadinessMode(flags.readiness);
  if (!mode) return std::unexpected(mode.error());
  w.readiness = *mode;
  return w;
}

namespace {

/* Answered from the state at once: the HTTP thread never waits on the event loop. The ping
 * makes the loop turn, so a loop that is alive has a fresh turn by the next probe. */
HttpReply Healthz(const WatchState& state) {
  if (int fd = state.process.ping_fd.load(); fd >= 0) {
    std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);  // EAGAIN: a ping is pending already
  }
  Readiness h = CheckHealth(state.process, ReportOf(state.sidecar), RealClock::Get().Mono());
  return {h.ready ? 200 : 503, "text/plain; charset=utf-8", h.reason + "\n"};
}

}  // namespace

std::unique_ptr<HttpServer> StartHttp(const WatchSetup& setup, WatchState& state, int* exit_code) {
  if (setup.http_addr.empty()) return nullptr;
  Millis max_outage = setup.ready_max_outage;
  ReadinessMode mode = setup.readiness;
  std::map<std::string, HttpHandler> routes{
      {"/healthz", [&state] { return Healthz(state); }},
      {"/readyz",
       [&state, max_outage, mode] {
         Readiness r = CheckReady(state.process, ReportOf(state.sidecar), RealClock::Get().Mono(),
                                  max_outage, mode);
         return HttpReply{r.ready ? 200 : 503, "text/plain; charset=utf-8", r.reason + "\n"};
       }},
      {"/metrics",
       [&state] {
         return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8",
                          RenderMetrics(state.process, ReportOf(state.sidecar))};
       }},
      {"/status", [&state, max_outage, mode] {
         MonoTime now = RealClock::Get().Mono();
         const SidecarReport sidecar = ReportOf(state.sidecar);  // one reading for both
         Readiness r = CheckReady(state.process, sidecar, now, max_outage, mode);
         return HttpReply{200, "application/json",
                          RenderStatus(state.process, sidecar, now, r, mode)};
       }}};
  auto server = HttpServer::Start(setup.http_addr, std::move(routes));
  if (!server) {
    *exit_code = Report(server.error());
    return nullptr;
  }
  spdlog::info(WithFields("serving /healthz, /readyz, /metrics, /status",
                          {{"addr", setup.http_addr}, {"port", (*server)->port()}}));
  return std::move(*server);
}

int DoWatch(Remote& remote, const RemoteSpec& spec, const Filter& filter, const WatchSetup& setup,
            WatchState& state, int signal_fd) {
  const SidecarOptions& opts = setup.sidecar;
  spdlog::info("watching {} -> {} (debounce {}, max delay {}, interval {}, {})", opts.dir.string(),
               spec.display, FormatDuration(opts.debounce), FormatDuration(opts.max_delay),
               FormatDuration(opts.interval), filter.Describe());
  PushOptions push{opts.dir, setup.guard, opts.transfers, false};
  push.marker_id = MarkerId(spec);
  Pusher pusher(remote, filter, push, RealClock::Get());
  ProcessState& process = state.process;
  process.gaps = &pusher.gaps();
  Sidecar sidecar(pusher, filter, opts, state.sidecar);
  process.ping_fd = sidecar.ping_fd();
  process.phase = Phase::kWatching;
  int code = sidecar.Run(signal_fd);  // returns once every worker has ended
  process.phase = Phase::kStopping;
  process.ping_fd = -1;
  process.gaps = nullptr;
  return code;
}

void RegisterWatch(CLI::App& app, CommonFlags& common, Action& action) {
  static FolderFlags folder;
  static WatchFlags flags;
  auto* cmd = app.add_subcommand("watch", "keep the backup equal to --dir in real time (sidecar)");
  AddFolderFlags(*cmd, folder);
  AddWatchFlags(*cmd, flags);
  cmd->callback([&] {
    action = [&] {
      int code = kExitOk;
      auto setup = ParseWatchFlags(flags, folder, common.remote.transfers);
      if (!setup) return Report(setup.error());
      auto in = OpenInputs(common, folder.filter, &code);
      if (!in) return code;
      auto& [filter, spec, remote] = *in;
      static WatchState state;
      auto signal_fd = Sidecar::BlockStopSignals();  // before any thread, so all inherit it
      if (!signal_fd) return Report(signal_fd.error());
      UniqueFd signals(*signal_fd);
      auto http = StartHttp(*setup, state, &code);
      if (code != kExitOk) return code;
      return DoWatch(*remote, spec, filter, *setup, state, signals.get());
    };
  });
}

}  // namespace cfgsync::cli

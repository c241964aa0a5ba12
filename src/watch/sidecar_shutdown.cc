#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "core/text.h"
#include "watch/sidecar_impl.h"

namespace cfgsync {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

/* After SIGTERM the app beside us (classic layout: it got the signal at the same moment) may
 * still be writing its last state. When the pod shares its process namespace we see the app's
 * processes and wait for them to exit: that is knowledge. Otherwise the folder being quiet for
 * shutdown_quiet is the best guess. Either way the shutdown timeout bounds the wait. */
bool Sidecar::Impl::LingerDone(MonoTime now) {
  const MonoTime deadline = *stop_requested + opts.shutdown_timeout;
  if (now >= deadline - std::min(opts.shutdown_timeout / 4, Millis(2'000))) return true;
  if (app.Visible()) {
    if (!app.Gone()) return false;
    spdlog::info("the app's processes have exited");
    return true;
  }
  bool quiet = now - last_fs_event >= opts.shutdown_quiet;
  return quiet && coalescer.Pending() == 0 && jobs_in_flight == 0 && !reconcile_running;
}

// Pushes everything pending at once, without debounce, until done or `deadline`.
void Sidecar::Impl::Drain(MonoTime deadline) {
  for (;;) {
    MonoTime now = clock.Mono();
    if (failures_in_a_row == 0) {
      Dispatch(coalescer.TakeAll());
    } else if (!probe_in_flight && (!probe_at || now >= *probe_at)) {
      auto all = coalescer.TakeAll();  // one probe; the rest waits for its answer
      for (std::size_t i = 1; i < all.size(); ++i) coalescer.Done(all[i].rel, false, now);
      if (!all.empty()) all.resize(1);
      Dispatch(std::move(all), true);
    }
    if (coalescer.Pending() == 0 && jobs_in_flight == 0) return;
    if (now >= deadline) return;
    auto left = duration_cast<milliseconds>(deadline - now).count();
    // Nothing in flight means the last attempts failed: pause before trying them again.
    int wait_ms = static_cast<int>(jobs_in_flight == 0 ? std::min<std::int64_t>(left, 250) : left);
    std::array<epoll_event, 8> events{};
    int n = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) return;  // the loop failed: logged by Run
    for (int i = 0; i < n; ++i)
      HandleEvent(events[static_cast<std::size_t>(i)].data.fd, clock.Mono());
  }
}

/* The exit code says what is true at exit: 0 only when every local file the filter includes
 * is in the backup with its current content and attributes (judged against what was stored,
 * without a request), and none is unprotected. */
int Sidecar::Impl::Verdict(std::size_t unpushed) {
  std::size_t count = 0;
  auto names = pusher.Unconfirmed(kShutdownNames, &count);
  if (!names) {
    spdlog::error("stopped: cannot check {}: {}", opts.dir.string(), names.error().message);
    return 1;
  }
  if (count > 0 || unpushed > 0) {
    std::string list;
    for (const auto& n : *names) list += (list.empty() ? "" : ", ") + Printable(n);
    spdlog::error("stopped: {} files are not in the backup with their current content{}{}{}",
                  std::max(count, unpushed), list.empty() ? "" : ": ", list,
                  count > names->size() ? ", ..." : "");
    return 1;
  }
  if (state.held_deletions > 0) {
    spdlog::info("stopped: every change is in the backup ({} deletions held back by the guard)",
                 state.held_deletions.load());
  } else {
    spdlog::info("stopped: every change is in the backup");
  }
  return 0;
}

int Sidecar::Impl::Shutdown() {
  MonoTime now = clock.Mono();
  stopping = true;
  if (watcher) OnFsEvents(now);  // the writes made just before the stop
  DropWatcher();
  spdlog::info("stopping: pushing {} pending changes", coalescer.Pending());
  Drain(*stop_requested + opts.shutdown_timeout);
  std::size_t left = coalescer.Pending();
  const int unfinished = jobs_in_flight;
  JoinWorkers();
  return Verdict(left > 0 || unfinished > 0 ? std::max<std::size_t>(left, 1) : 0);
}

}  // namespace cfgsync

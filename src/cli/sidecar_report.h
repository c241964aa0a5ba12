// Feeds the HTTP endpoints: the sidecar's live figures read into the plain report obs/ renders.
#pragma once

#include "obs/metrics.h"
#include "watch/sidecar.h"

namespace cfgsync::cli {

// Reads every figure of `state` once (the push histogram as one consistent snapshot). Safe to
// call from any thread while the sidecar updates `state`.
SidecarReport ReportOf(const SidecarState& state);

// What the `watch` step shares with the HTTP thread: the process's own state and the
// sidecar's figures, which the endpoints read through ReportOf on each request.
struct WatchState {
  ProcessState process;
  SidecarState sidecar;
};

}  // namespace cfgsync::cli

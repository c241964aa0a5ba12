// What every subcommand shares: flag registration with CFGSYNC_* environment fallbacks, the
// remote flags, and the mapping from errors to exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "cli/sidecar_report.h"
#include "config/remote_config.h"
#include "core/error.h"
#include "obs/http_server.h"
#include "obs/metrics.h"
#include "sync/filter.h"
#include "sync/restore.h"
#include "watch/sidecar.h"

namespace cfgsync::cli {

// The health/metrics endpoint's default address: a port none of the apps cfgsync runs beside
// uses (Sabnzbd 8080, Sonarr 8989, Radarr 7878, Home Assistant 8123), nor Prometheus (9090).
inline constexpr std::string_view kDefaultHttpAddr = ":9740";

// Documented exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// The action of the subcommand the user chose; set by the subcommand's registration.
using Action = std::function<int()>;

// Flags shared by all subcommands (attached to the top-level app, usable after the subcommand).
struct CommonFlags {
  std::string log_level = "info";
  std::string log_format = "text";
  RemoteFlags remote;
};

// CFGSYNC_<NAME> for flag `name` (upper-cased, '-' as '_').
std::string EnvNameFor(const std::string& name);

// Adds `--name` bound to `value`, with the CFGSYNC_<NAME> environment variable as fallback.
template <class T>
CLI::Option* AddFlag(CLI::App& app, const std::string& name, T& value, const std::string& help) {
  return app.add_option("--" + name, value, help)->envname(EnvNameFor(name))->capture_default_str();
}

// Adds a repeatable `--name`. Its CFGSYNC_<NAME> fallback is a comma-separated list, as rclone
// reads list flags from the environment (SplitPatternList); any --name given replaces it.
CLI::Option* AddListFlag(CLI::App& app, const std::string& name, std::vector<std::string>& values,
                         const std::string& help);

// Adds `--name` for a value where "" means off: unlike AddFlag, CFGSYNC_<NAME>="" (set but
// empty) counts as a value and turns the feature off.
CLI::Option* AddOptionalFlag(CLI::App& app, const std::string& name, std::string& value,
                             const std::string& help);

// The local folder and which of its files are synced.
struct FolderFlags {
  std::string dir = "/config";
  FilterOptions filter;
};
// Registers --dir, --exclude, --include, --filter-from and --no-default-excludes.
void AddFolderFlags(CLI::App& cmd, FolderFlags& flags);

// Flags of the restore step (restore, run).
struct RestoreFlags {
  std::string on_conflict = "newer";
  std::string chown;
  bool allow_missing_bucket = false;
  bool allow_root_owner = false;
  bool dry_run = false;
  std::string offline_after = "0s";  // `run` defaults to 30s
};
// Registers --on-conflict, --chown, --allow-missing-bucket, --allow-root-owner, --offline-after
// and, when `dry_run`, --dry-run.
void AddRestoreFlags(CLI::App& cmd, RestoreFlags& flags, bool dry_run);

// The restore step's settings, checked.
struct RestoreSetup {
  RestoreOptions opts;
  // While the remote is unreachable, keep trying; after this long, start from --dir if it
  // holds the marker of this remote. 0: fail at once (exit 1), as a plain restore does.
  Millis offline_after{0};
};
// Checks the restore flags; kConfig naming the flag at fault.
Result<RestoreSetup> ParseRestoreFlags(const RestoreFlags& flags, const FolderFlags& folder,
                                       int transfers);
// Restores into the folder and prints the summary line; records the figures in `state` when
// given. With setup.offline_after, an unreachable remote is retried until it answers, or until
// offline_after has passed and --dir holds this remote's marker (then the local folder is used
// as it is); SIGTERM on `signal_fd` (when >= 0) ends the wait, or interrupts the restore: its
// downloads stop, their temporary files are removed, and it fails ("restore interrupted").
// Returns the exit code.
int DoRestore(Remote& remote, const RemoteSpec& spec, const Filter& filter,
              const RestoreSetup& setup, ProcessState* state = nullptr, int signal_fd = -1);

// What identifies the remote in the marker file: the endpoint and the bucket and prefix.
std::string MarkerId(const RemoteSpec& spec);

// Flags of the watch step (watch, run).
struct WatchFlags {
  std::string debounce = "500ms";
  std::string max_delay = "5s";
  std::string interval = "1h";
  std::string shutdown_timeout = "20s";
  std::string max_delete = "50%";
  std::string http_addr = std::string(kDefaultHttpAddr);
  std::string ready_max_outage = "2m";
  std::string readiness = "startup";
  std::string shutdown_quiet = "2s";  // `run` defaults to 0s: the app has stopped already
};
// Registers --debounce, --max-delay, --interval, --shutdown-timeout, --shutdown-quiet,
// --max-delete, --http-addr, --readiness and --ready-max-outage.
void AddWatchFlags(CLI::App& cmd, WatchFlags& flags);

// The watch step's settings, checked.
struct WatchSetup {
  SidecarOptions sidecar;
  DeleteGuard guard;
  std::string http_addr;  // "" turns the HTTP server off
  Millis ready_max_outage{120'000};
  ReadinessMode readiness = ReadinessMode::kStartup;
};
// Checks the watch flags; kConfig naming the flag at fault.
Result<WatchSetup> ParseWatchFlags(const WatchFlags& flags, const FolderFlags& folder,
                                   int transfers);

// Starts the /healthz, /readyz, /metrics and /status server on `addr` (nullptr and no error when
// addr is
// ""). On failure prints the error and sets `exit_code`.
std::unique_ptr<HttpServer> StartHttp(const WatchSetup& setup, WatchState& state, int* exit_code);

// Watches until SIGTERM/SIGINT and returns the exit code. Ends the process itself when a
// request is still running at the shutdown deadline.
// `signal_fd` comes from Sidecar::BlockStopSignals(), called before any thread starts.
int DoWatch(Remote& remote, const RemoteSpec& spec, const Filter& filter, const WatchSetup& setup,
            WatchState& state, int signal_fd);

// What every command that touches files needs: the filter and the opened remote.
struct Inputs {
  Filter filter;
  RemoteSpec spec;
  std::unique_ptr<Remote> remote;
};
// Builds the filter, sets up logging and opens the remote. On failure prints one line and
// returns nullopt with the exit code in `exit_code`.
std::optional<Inputs> OpenInputs(const CommonFlags& common, const FilterOptions& filter,
                                 int* exit_code);

// Registers --remote, --transfers, --ca-bundle, --s3-virtual-host, --retries, --log-level,
// --log-format.
void AddCommonFlags(CLI::App& app, CommonFlags& flags);

// Sets up logging and resolves the remote from flags + environment. Prints a one-line error and
// returns the exit code in `exit_code` on failure.
std::unique_ptr<Remote> OpenRemoteOrReport(const CommonFlags& flags, RemoteSpec* spec_out,
                                           int* exit_code);

// Prints "cfgsync: <message>" on stderr and returns the exit code for the error's kind.
int Report(const Error& error);

// Whether the command line or CFGSYNC_LOG_FORMAT asks for JSON logs, read without the parser:
// for reporting a command line the parser rejected.
bool AskedForJson(int argc, char** argv);

// Registration of each subcommand (one file each under src/cli/).
void RegisterVersion(CLI::App& app, Action& action);
void RegisterLs(CLI::App& app, CommonFlags& flags, Action& action);
void RegisterRestore(CLI::App& app, CommonFlags& flags, Action& action);
void RegisterSync(CLI::App& app, CommonFlags& flags, Action& action);
void RegisterWatch(CLI::App& app, CommonFlags& flags, Action& action);
void RegisterRun(CLI::App& app, CommonFlags& flags, Action& action);
void RegisterStatus(CLI::App& app, CommonFlags& flags, Action& action);

}  // namespace cfgsync::cli

#include "cli/common.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "config/remote_config.h"
#include "core/log.h"
#include "core/text.h"

namespace cfgsync::cli {

void AddCommonFlags(CLI::App& app, CommonFlags& flags) {
  AddFlag(app, "remote", flags.remote.remote,
          "NAME:bucket/path (rclone remote from RCLONE_CONFIG_NAME_*) or a local folder; "
          "default s3:$SYNC_BUCKET/$SYNC_PATH");
  AddFlag(app, "transfers", flags.remote.transfers, "parallel transfers (connections)")
      ->check(CLI::Range(1, 256));
  AddFlag(app, "ca-bundle", flags.remote.ca_bundle, "PEM file of CAs for https endpoints");
  AddFlag(app, "retries", flags.remote.retries,
          "attempts per operation (one budget for all its requests), the first included")
      ->check(CLI::Range(1, 100));
  AddFlag(app, "stall-timeout", flags.remote.stall_timeout,
          "a request with no answer, or moving under 1 KiB/s, for this long fails");
  AddFlag(app, "log-level", flags.log_level, "trace, debug, info, warn, error or off");
  AddFlag(app, "log-format", flags.log_format, "text or json (one object per line)");
  app.add_flag("--s3-virtual-host", flags.remote.virtual_host,
               "virtual-hosted-style addressing (bucket.host) instead of path style")
      ->envname("CFGSYNC_S3_VIRTUAL_HOST");
}

std::string EnvNameFor(const std::string& name) {
  std::string env = "CFGSYNC_" + AsciiUpper(name);
  std::ranges::replace(env, '-', '_');
  return env;
}

CLI::Option* AddListFlag(CLI::App& app, const std::string& name, std::vector<std::string>& values,
                         const std::string& help) {
  const std::string env = EnvNameFor(name);
  if (const char* v = std::getenv(env.c_str())) values = SplitPatternList(v);
  /* One pattern per --name: without allow_extra_args(false), CLI11 would read "[ab]" (an
   * rclone character class) as a list and keep "ab". */
  return app.add_option("--" + name, values, help + " (" + env + ": comma-separated)")
      ->allow_extra_args(false)
      ->capture_default_str();
}

CLI::Option* AddOptionalFlag(CLI::App& app, const std::string& name, std::string& value,
                             const std::string& help) {
  const std::string env = EnvNameFor(name);
  /* CLI11 ignores an empty environment variable; here "set but empty" is a choice. */
  if (const char* v = std::getenv(env.c_str()); v && !*v) value.clear();
  return AddFlag(app, name, value, help);
}

void AddFolderFlags(CLI::App& cmd, FolderFlags& flags) {
  AddFlag(cmd, "dir", flags.dir, "the local folder of config files");
  FilterOptions& opts = flags.filter;
  AddListFlag(cmd, "exclude", opts.excludes,
              "exclude files matching this rclone-style pattern (repeatable)");
  AddListFlag(cmd, "include", opts.includes,
              "include only files matching this pattern (repeatable)");
  AddFlag(cmd, "filter-from", opts.filter_from, "read '+ pattern' / '- pattern' rules from FILE");
  cmd.add_flag("--no-default-excludes{false}", opts.default_excludes,
               "do not exclude *.db*, .*-litestream/, *.log and /lost+found/ by default")
      ->envname("CFGSYNC_NO_DEFAULT_EXCLUDES");
}

std::optional<Inputs> OpenInputs(const CommonFlags& common, const FilterOptions& filter,
                                 int* exit_code) {
  auto f = Filter::Build(filter);
  if (!f) {
    *exit_code = Report(f.error());
    return std::nullopt;
  }
  RemoteSpec spec;
  auto remote = OpenRemoteOrReport(common, &spec, exit_code);
  if (!remote) return std::nullopt;
  return Inputs{std::move(*f), std::move(spec), std::move(remote)};
}

// The start-up line with the effective remote settings. The secret key and session token are
// never shown; the access key id only by its first characters.
namespace {

void LogEffectiveConfig(const RemoteSpec& spec, const CommonFlags& flags) {
  if (spec.is_local) {
    spdlog::info(WithFields("configuration",
                            {{"remote", spec.display}, {"transfers", flags.remote.transfers}}));
    return;
  }
  const auto& s3 = spec.s3;
  std::string key = s3.creds.access_key_id.substr(0, 4) + "…";
  spdlog::info(WithFields("configuration",
                          {{"remote", spec.display},
                           {"endpoint", s3.endpoint.empty() ? "aws" : s3.endpoint},
                           {"region", s3.region},
                           {"addressing", s3.path_style ? "path" : "virtual-host"},
                           {"access_key_id", key},
                           {"secret_access_key", "***"},
                           {"session_token", s3.creds.session_token.empty() ? "none" : "***"},
                           {"transfers", flags.remote.transfers},
                           {"retries", flags.remote.retries}}));
}

}  // namespace

int Report(const Error& error) {
  // Written directly, whatever --log-level says: a run that fails must say why. JSON lines
  // stay parseable with --log-format json.
  std::string line = LogJson() ? FormatLogLine(true, LogTimestamp(), "error", error.message)
                               : "cfgsync: " + Printable(error.message);
  (void)std::fprintf(stderr, "%s\n", line.c_str());  // nowhere to report a failed write
  return error.kind == ErrorKind::kConfig ? kExitUsage : kExitFailure;
}

bool AskedForJson(int argc, char** argv) {
  const char* env = std::getenv("CFGSYNC_LOG_FORMAT");
  bool json = env && std::string_view(env) == "json";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--log-format=json" || (a == "--log-format" && i + 1 < argc)) {
      json = a != "--log-format" || std::string_view(argv[i + 1]) == "json";
    } else if (a.starts_with("--log-format=")) {
      json = false;
    }
  }
  return json;
}

std::unique_ptr<Remote> OpenRemoteOrReport(const CommonFlags& flags, RemoteSpec* spec_out,
                                           int* exit_code) {
  if (auto ok = SetupLogging(flags.log_level, flags.log_format); !ok) {
    *exit_code = Report(ok.error());
    return nullptr;
  }
  auto spec = ResolveRemote(flags.remote, ProcessEnv());
  if (!spec) {
    *exit_code = Report(spec.error());
    return nullptr;
  }
  if (spec_out) *spec_out = *spec;
  LogEffectiveConfig(*spec, flags);
  return OpenRemote(*spec);
}

}  // namespace cfgsync::cli

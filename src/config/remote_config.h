// Where the backup lives, resolved from flags and the environment the way the rclone pattern
// configured it, so an existing Secret works unchanged.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "remote/remote.h"
#include "s3/s3_remote.h"

namespace cfgsync {

// Reads one environment variable; nullopt when unset. Injected so tests need not touch environ.
using EnvReader = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment. Empty values count as unset.
EnvReader ProcessEnv();

// Remote-related flags of every subcommand.
struct RemoteFlags {
  std::string remote;  // --remote: "NAME:bucket/path" or a local path; "" for SYNC_BUCKET/SYNC_PATH
  int transfers = 16;
  std::string ca_bundle;
  bool virtual_host = false;  // --s3-virtual-host
  int retries = 6;            // attempts per request, the first included
  // --stall-timeout: a request with no answer, or moving under 1 KiB/s, this long fails.
  std::string stall_timeout = "30s";
};

struct RemoteSpec {
  bool is_local = false;
  std::filesystem::path local_root;
  s3::S3Config s3;
  // Where the bucket name came from ("SYNC_BUCKET", "--remote"), for error messages.
  std::string bucket_source;
  // "s3:bucket/path" or the local root, as shown to people.
  std::string display;
};

// Resolves flags + environment. With `--remote NAME:bucket/path`, reads RCLONE_CONFIG_<NAME>_*
// (NAME upper-cased, '-' as '_'); without it, SYNC_BUCKET and SYNC_PATH with RCLONE_CONFIG_S3_*.
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION/AWS_DEFAULT_REGION
// and AWS_ENDPOINT_URL fill what the rclone variables leave unset. A plain path selects the
// local-directory remote. Errors are kConfig and name the variable or flag at fault.
Result<RemoteSpec> ResolveRemote(const RemoteFlags& flags, const EnvReader& env);

// Builds the Remote a spec describes.
std::unique_ptr<Remote> OpenRemote(const RemoteSpec& spec);

}  // namespace cfgsync

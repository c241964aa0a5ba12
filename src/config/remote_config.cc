#include "config/remote_config.h"

#include <algorithm>
#include <cstdlib>

#include "core/duration.h"
#include "core/text.h"
#include "remote/local_remote.h"

namespace cfgsync {
namespace {

// A remote's name as rclone spells it in environment variables: upper case, '-' as '_'.
std::string EnvName(std::string_view name) {
  std::string s = AsciiUpper(name);
  std::ranges::replace(s, '-', '_');
  return s;
}

std::string Trim(std::string_view s, char c) {
  while (!s.empty() && s.front() == c) s.remove_prefix(1);
  while (!s.empty() && s.back() == c) s.remove_suffix(1);
  return std::string(s);
}

// True for "NAME:rest" where NAME is an rclone remote name (letters, digits, '_', '-', '.').
bool IsRemoteSyntax(std::string_view s) {
  auto colon = s.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  return std::all_of(s.begin(), s.begin() + static_cast<long>(colon), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// The first set variable among `names`, with the name it came from.
std::optional<std::pair<std::string, std::string>> First(const EnvReader& env,
                                                         std::initializer_list<std::string> names) {
  for (const auto& n : names) {
    if (auto v = env(n)) return std::make_pair(n, *v);
  }
  return std::nullopt;
}

Status CheckBucket(const std::string& bucket, const std::string& source) {
  if (bucket.empty()) return Fail(ErrorKind::kConfig, source + ": the bucket name is empty");
  for (unsigned char c : bucket) {
    if (c <= 0x20 || c == 0x7f || c == '/' || c == '\\') {
      return Fail(ErrorKind::kConfig, source + ": invalid bucket name \"" + bucket + "\"");
    }
  }
  return {};
}

// Fills credentials, endpoint and region from RCLONE_CONFIG_<NAME>_* then the AWS_* fallbacks.
Status FillS3(const std::string& name, const EnvReader& env, s3::S3Config& s3) {
  std::string p = "RCLONE_CONFIG_" + EnvName(name) + "_";
  auto type = env(p + "TYPE");
  if (type && AsciiLower(*type) != "s3") {
    return Fail(ErrorKind::kConfig, p + "TYPE is \"" + *type + "\": only s3 remotes are supported");
  }
  auto key = First(env, {p + "ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"});
  auto secret = First(env, {p + "SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"});
  if (!key) return Fail(ErrorKind::kConfig, p + "ACCESS_KEY_ID (or AWS_ACCESS_KEY_ID) is not set");
  if (!secret) {
    return Fail(ErrorKind::kConfig, p + "SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY) is not set");
  }
  s3.creds.access_key_id = key->second;
  s3.creds.secret_access_key = secret->second;
  if (auto t = First(env, {p + "SESSION_TOKEN", "AWS_SESSION_TOKEN"}))
    s3.creds.session_token = t->second;
  if (auto r = First(env, {p + "REGION", "AWS_REGION", "AWS_DEFAULT_REGION"}))
    s3.region = r->second;
  if (auto e = First(env, {p + "ENDPOINT", "AWS_ENDPOINT_URL"})) {
    std::string ep = Trim(e->second, ' ');
    if (ep.find("://") == std::string::npos) ep = "https://" + ep;  // rclone's default scheme
    if (!ep.starts_with("http://") && !ep.starts_with("https://")) {
      return Fail(ErrorKind::kConfig, e->first + ": endpoint must be an http:// or https:// URL");
    }
    s3.endpoint = ep;
  }
  auto provider = env(p + "PROVIDER");
  auto path_style = env(p + "FORCE_PATH_STYLE");
  if (path_style) {
    // rclone reads booleans with Go's strconv.ParseBool.
    std::string v = AsciiLower(*path_style);
    if (v == "1" || v == "t" || v == "true") {
      s3.path_style = true;
    } else if (v == "0" || v == "f" || v == "false") {
      s3.path_style = false;
    } else {
      return Fail(ErrorKind::kConfig,
                  p + "FORCE_PATH_STYLE must be true or false, not \"" + *path_style + "\"");
    }
  } else if (provider && AsciiLower(*provider) == "aws") {
    s3.path_style = false;  // rclone's choice for AWS itself
  }
  return {};
}

}  // namespace

EnvReader ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
}

Result<RemoteSpec> ResolveRemote(const RemoteFlags& flags, const EnvReader& env) {
  RemoteSpec spec;
  if (flags.transfers < 1 || flags.transfers > 256) {
    return Fail(ErrorKind::kConfig, "--transfers must be between 1 and 256");
  }
  std::string name = "s3", location;
  if (!flags.remote.empty() && !IsRemoteSyntax(flags.remote)) {
    spec.is_local = true;
    spec.local_root = flags.remote;
    spec.display = flags.remote;
    return spec;
  }
  if (!flags.remote.empty()) {
    auto colon = flags.remote.find(':');
    name = flags.remote.substr(0, colon);
    location = Trim(flags.remote.substr(colon + 1), '/');
    spec.bucket_source = "--remote";
  } else {
    auto bucket = env("SYNC_BUCKET");
    if (!bucket) {
      return Fail(ErrorKind::kConfig,
                  "no remote: set --remote (or CFGSYNC_REMOTE), or SYNC_BUCKET and SYNC_PATH");
    }
    location = Trim(*bucket, '/') + "/" + Trim(env("SYNC_PATH").value_or(""), '/');
    spec.bucket_source = "SYNC_BUCKET";
  }
  auto slash = location.find('/');
  spec.s3.bucket = location.substr(0, slash);
  spec.s3.prefix = slash == std::string::npos ? "" : Trim(location.substr(slash + 1), '/');
  if (auto ok = CheckBucket(spec.s3.bucket, spec.bucket_source); !ok)
    return std::unexpected(ok.error());
  if (auto ok = FillS3(name, env, spec.s3); !ok) return std::unexpected(ok.error());
  if (flags.virtual_host) spec.s3.path_style = false;
  spec.s3.transfers = flags.transfers;
  spec.s3.ca_bundle = flags.ca_bundle;
  spec.s3.max_attempts = std::max(1, flags.retries);
  auto stall = ParseDuration(flags.stall_timeout, "--stall-timeout");
  if (!stall) return std::unexpected(stall.error());
  if (*stall < std::chrono::seconds(1) || *stall > std::chrono::hours(1)) {
    return Fail(ErrorKind::kConfig,
                "--stall-timeout: want 1s to 1h, not \"" + flags.stall_timeout + "\"");
  }
  spec.s3.stall_timeout = *stall;
  spec.display = name + ":" + spec.s3.bucket + (spec.s3.prefix.empty() ? "" : "/" + spec.s3.prefix);
  return spec;
}

std::unique_ptr<Remote> OpenRemote(const RemoteSpec& spec) {
  if (spec.is_local) return MakeLocalRemote(spec.local_root);
  return s3::MakeS3Remote(spec.s3);
}

}  // namespace cfgsync

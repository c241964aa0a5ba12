#include "config/remote_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/result_text.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzSECRET";

// An environment held in a map; records every name read. Empty values count as unset, as in
// ProcessEnv.
class FakeEnv {
 public:
  FakeEnv() = default;
  FakeEnv(std::initializer_list<std::pair<const std::string, std::string>> vars) : vars_(vars) {}
  void Set(const std::string& name, const std::string& value) { vars_[name] = value; }
  void Unset(const std::string& name) { vars_.erase(name); }
  EnvReader Reader() {
    return [this](const std::string& name) -> std::optional<std::string> {
      read_.insert(name);
      auto it = vars_.find(name);
      if (it == vars_.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
  }
  bool WasRead(const std::string& name) const { return read_.contains(name); }

 private:
  std::map<std::string, std::string> vars_;
  std::set<std::string> read_;
};

// The rclone variables of the default "s3" remote, with a MinIO-style endpoint.
FakeEnv S3Env() {
  return FakeEnv({{"RCLONE_CONFIG_S3_TYPE", "s3"},
                  {"RCLONE_CONFIG_S3_PROVIDER", "Minio"},
                  {"RCLONE_CONFIG_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                  {"RCLONE_CONFIG_S3_SECRET_ACCESS_KEY", kSecret},
                  {"RCLONE_CONFIG_S3_ENDPOINT", "http://minio:9000"},
                  {"RCLONE_CONFIG_S3_REGION", "eu-west-1"}});
}

RemoteFlags RemoteFlag(const std::string& remote) {
  RemoteFlags f;
  f.remote = remote;
  return f;
}

using testing::Text;

// Checks that `r` failed with kConfig and that its message contains `needle`.
template <class T>
::testing::AssertionResult ConfigError(const std::expected<T, Error>& r,
                                       const std::string& needle) {
  if (r) return ::testing::AssertionFailure() << "succeeded";
  if (r.error().kind != ErrorKind::kConfig)
    return ::testing::AssertionFailure() << "wrong kind: " << Text(r);
  if (r.error().message.find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "message lacks \"" << needle << "\": " << Text(r);
  return ::testing::AssertionSuccess();
}

TEST(ResolveRemoteTest, RemoteFlagWithRcloneVariables) {
  FakeEnv env = S3Env();
  auto spec = ResolveRemote(RemoteFlag("s3:bucket/path/sub"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_FALSE(spec->is_local);
  EXPECT_EQ(spec->s3.bucket, "bucket");
  EXPECT_EQ(spec->s3.prefix, "path/sub");
  EXPECT_EQ(spec->s3.endpoint, "http://minio:9000");
  EXPECT_EQ(spec->s3.region, "eu-west-1");
  EXPECT_EQ(spec->s3.creds.access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(spec->s3.creds.secret_access_key, kSecret);
  EXPECT_EQ(spec->s3.creds.session_token, "");
  EXPECT_TRUE(spec->s3.path_style);
  EXPECT_EQ(spec->bucket_source, "--remote");
  EXPECT_EQ(spec->display, "s3:bucket/path/sub");
  EXPECT_EQ(spec->display.find(kSecret), std::string::npos);
}

TEST(ResolveRemoteTest, RemoteFlagBucketOnlyAndStraySlashes) {
  FakeEnv env = S3Env();
  auto spec = ResolveRemote(RemoteFlag("s3:bucket"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.bucket, "bucket");
  EXPECT_EQ(spec->s3.prefix, "");
  EXPECT_EQ(spec->display, "s3:bucket");

  auto slashed = ResolveRemote(RemoteFlag("s3:/bucket/app/conf/"), env.Reader());
  ASSERT_TRUE(slashed) << Text(slashed);
  EXPECT_EQ(slashed->s3.bucket, "bucket");
  EXPECT_EQ(slashed->s3.prefix, "app/conf");

  auto trailing = ResolveRemote(RemoteFlag("s3:bucket/"), env.Reader());
  ASSERT_TRUE(trailing) << Text(trailing);
  EXPECT_EQ(trailing->s3.prefix, "");
}

TEST(ResolveRemoteTest, RemoteNameIsUpperCasedWithDashesAsUnderscores) {
  FakeEnv env({{"RCLONE_CONFIG_MY_MINIO_TYPE", "s3"},
               {"RCLONE_CONFIG_MY_MINIO_ACCESS_KEY_ID", "minio-key"},
               {"RCLONE_CONFIG_MY_MINIO_SECRET_ACCESS_KEY", kSecret},
               {"RCLONE_CONFIG_MY_MINIO_ENDPOINT", "http://127.0.0.1:9000"},
               // The default remote's variables must not be used for another name.
               {"RCLONE_CONFIG_S3_ACCESS_KEY_ID", "wrong"},
               {"RCLONE_CONFIG_S3_ENDPOINT", "http://wrong"}});
  auto spec = ResolveRemote(RemoteFlag("my-minio:b/p"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_TRUE(env.WasRead("RCLONE_CONFIG_MY_MINIO_ACCESS_KEY_ID"));
  EXPECT_EQ(spec->s3.creds.access_key_id, "minio-key");
  EXPECT_EQ(spec->s3.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(spec->s3.bucket, "b");
  EXPECT_EQ(spec->s3.prefix, "p");
  EXPECT_EQ(spec->display, "my-minio:b/p");
}

TEST(ResolveRemoteTest, MixedCaseNameUpperCased) {
  FakeEnv env({{"RCLONE_CONFIG_BACKUP_2_ACCESS_KEY_ID", "k"},
               {"RCLONE_CONFIG_BACKUP_2_SECRET_ACCESS_KEY", kSecret}});
  auto spec = ResolveRemote(RemoteFlag("Backup-2:bkt"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.creds.access_key_id, "k");
}

TEST(ResolveRemoteTest, SyncBucketAndSyncPath) {
  FakeEnv env = S3Env();
  env.Set("SYNC_BUCKET", "backups");
  env.Set("SYNC_PATH", "/home-assistant/config/");
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_FALSE(spec->is_local);
  EXPECT_EQ(spec->s3.bucket, "backups");
  EXPECT_EQ(spec->s3.prefix, "home-assistant/config");
  EXPECT_EQ(spec->bucket_source, "SYNC_BUCKET");
  EXPECT_EQ(spec->s3.creds.access_key_id, "AKIDEXAMPLE");  // the "s3" remote's variables
  EXPECT_EQ(spec->display, "s3:backups/home-assistant/config");
}

TEST(ResolveRemoteTest, SyncBucketWithoutSyncPathIsTheBucketRoot) {
  FakeEnv env = S3Env();
  env.Set("SYNC_BUCKET", "backups");
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.bucket, "backups");
  EXPECT_EQ(spec->s3.prefix, "");
  EXPECT_EQ(spec->display, "s3:backups");
}

TEST(ResolveRemoteTest, RemoteFlagWinsOverSyncBucket) {
  FakeEnv env = S3Env();
  env.Set("SYNC_BUCKET", "env-bucket");
  env.Set("SYNC_PATH", "env-path");
  auto spec = ResolveRemote(RemoteFlag("s3:flag-bucket/flag-path"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.bucket, "flag-bucket");
  EXPECT_EQ(spec->s3.prefix, "flag-path");
  EXPECT_EQ(spec->bucket_source, "--remote");
}

TEST(ResolveRemoteTest, AwsVariablesFillWhatRcloneLeavesUnset) {
  FakeEnv env({{"SYNC_BUCKET", "b"},
               {"AWS_ACCESS_KEY_ID", "aws-key"},
               {"AWS_SECRET_ACCESS_KEY", kSecret},
               {"AWS_SESSION_TOKEN", "session-token"},
               {"AWS_REGION", "ap-south-1"},
               {"AWS_DEFAULT_REGION", "us-west-2"},
               {"AWS_ENDPOINT_URL", "http://localstack:4566"}});
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.creds.access_key_id, "aws-key");
  EXPECT_EQ(spec->s3.creds.secret_access_key, kSecret);
  EXPECT_EQ(spec->s3.creds.session_token, "session-token");
  EXPECT_EQ(spec->s3.region, "ap-south-1");
  EXPECT_EQ(spec->s3.endpoint, "http://localstack:4566");
}

TEST(ResolveRemoteTest, AwsDefaultRegionWhenAwsRegionUnset) {
  FakeEnv env({{"SYNC_BUCKET", "b"},
               {"AWS_ACCESS_KEY_ID", "k"},
               {"AWS_SECRET_ACCESS_KEY", kSecret},
               {"AWS_DEFAULT_REGION", "us-west-2"}});
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.region, "us-west-2");
  EXPECT_EQ(spec->s3.endpoint, "");  // AWS itself
}

TEST(ResolveRemoteTest, RegionDefaultsToUsEast1) {
  FakeEnv env({{"SYNC_BUCKET", "b"}, {"AWS_ACCESS_KEY_ID", "k"}, {"AWS_SECRET_ACCESS_KEY", "s"}});
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.region, "us-east-1");
}

TEST(ResolveRemoteTest, RcloneVariablesWinOverAws) {
  FakeEnv env = S3Env();
  env.Set("SYNC_BUCKET", "b");
  env.Set("RCLONE_CONFIG_S3_SESSION_TOKEN", "rclone-token");
  env.Set("AWS_ACCESS_KEY_ID", "aws-key");
  env.Set("AWS_SECRET_ACCESS_KEY", "aws-secret");
  env.Set("AWS_SESSION_TOKEN", "aws-token");
  env.Set("AWS_REGION", "aws-region");
  env.Set("AWS_ENDPOINT_URL", "http://aws-endpoint");
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.creds.access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(spec->s3.creds.secret_access_key, kSecret);
  EXPECT_EQ(spec->s3.creds.session_token, "rclone-token");
  EXPECT_EQ(spec->s3.region, "eu-west-1");
  EXPECT_EQ(spec->s3.endpoint, "http://minio:9000");
}

TEST(ResolveRemoteTest, EmptyRcloneValueFallsBackToAws) {
  FakeEnv env = S3Env();
  env.Set("SYNC_BUCKET", "b");
  env.Set("RCLONE_CONFIG_S3_ACCESS_KEY_ID", "");
  env.Set("AWS_ACCESS_KEY_ID", "aws-key");
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.creds.access_key_id, "aws-key");
}

TEST(ResolveRemoteTest, EndpointWithoutSchemeGetsHttps) {
  FakeEnv env = S3Env();
  env.Set("RCLONE_CONFIG_S3_ENDPOINT", "s3.eu-central-003.backblazeb2.com");
  auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.endpoint, "https://s3.eu-central-003.backblazeb2.com");

  env.Set("RCLONE_CONFIG_S3_ENDPOINT", "minio.local:9000");
  auto with_port = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
  ASSERT_TRUE(with_port) << Text(with_port);
  EXPECT_EQ(with_port->s3.endpoint, "https://minio.local:9000");
}

TEST(ResolveRemoteTest, EndpointSchemesKept) {
  FakeEnv env = S3Env();
  env.Set("RCLONE_CONFIG_S3_ENDPOINT", "https://minio.example.com");
  auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.endpoint, "https://minio.example.com");
}

TEST(ResolveRemoteTest, EndpointWithOtherSchemeIsConfigErrorNamingTheVariable) {
  FakeEnv env = S3Env();
  env.Set("RCLONE_CONFIG_S3_ENDPOINT", "ftp://minio:21");
  EXPECT_TRUE(
      ConfigError(ResolveRemote(RemoteFlag("s3:b"), env.Reader()), "RCLONE_CONFIG_S3_ENDPOINT"));

  FakeEnv aws({{"SYNC_BUCKET", "b"},
               {"AWS_ACCESS_KEY_ID", "k"},
               {"AWS_SECRET_ACCESS_KEY", kSecret},
               {"AWS_ENDPOINT_URL", "s3://weird"}});
  EXPECT_TRUE(ConfigError(ResolveRemote(RemoteFlags{}, aws.Reader()), "AWS_ENDPOINT_URL"));
}

TEST(ResolveRemoteTest, PathStyleByDefault) {
  FakeEnv env = S3Env();
  env.Unset("RCLONE_CONFIG_S3_PROVIDER");
  auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_TRUE(spec->s3.path_style);
}

TEST(ResolveRemoteTest, ProviderAwsSelectsVirtualHost) {
  for (const char* provider : {"AWS", "aws", "Aws"}) {
    FakeEnv env = S3Env();
    env.Set("RCLONE_CONFIG_S3_PROVIDER", provider);
    auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
    ASSERT_TRUE(spec) << Text(spec);
    EXPECT_FALSE(spec->s3.path_style) << provider;
  }
}

TEST(ResolveRemoteTest, ForcePathStyleFalseSelectsVirtualHost) {
  FakeEnv env = S3Env();  // provider Minio
  env.Set("RCLONE_CONFIG_S3_FORCE_PATH_STYLE", "false");
  auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_FALSE(spec->s3.path_style);
}

TEST(ResolveRemoteTest, ForcePathStyleFalseInAnyCase) {
  for (const char* value : {"FALSE", "False"}) {
    FakeEnv env = S3Env();
    env.Set("RCLONE_CONFIG_S3_FORCE_PATH_STYLE", value);
    auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
    ASSERT_TRUE(spec) << Text(spec);
    EXPECT_FALSE(spec->s3.path_style) << value;
  }
}

// rclone reads boolean options with Go's strconv.ParseBool, which also takes "0", "f" and "F"
// for false: an existing Secret with FORCE_PATH_STYLE=0 means virtual-hosted addressing there.
TEST(ResolveRemoteTest, ForcePathStyleAcceptsEveryRcloneSpellingOfFalse) {
  for (const char* value : {"0", "f", "F"}) {
    FakeEnv env = S3Env();
    env.Set("RCLONE_CONFIG_S3_FORCE_PATH_STYLE", value);
    auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
    ASSERT_TRUE(spec) << Text(spec);
    EXPECT_FALSE(spec->s3.path_style) << "FORCE_PATH_STYLE=" << value;
  }
}

TEST(ResolveRemoteTest, ForcePathStyleTrueWinsOverProviderAws) {
  FakeEnv env = S3Env();
  env.Set("RCLONE_CONFIG_S3_PROVIDER", "AWS");
  env.Set("RCLONE_CONFIG_S3_FORCE_PATH_STYLE", "true");
  auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_TRUE(spec->s3.path_style);
}

TEST(ResolveRemoteTest, VirtualHostFlagSelectsVirtualHost) {
  FakeEnv env = S3Env();
  env.Set("RCLONE_CONFIG_S3_FORCE_PATH_STYLE", "true");
  RemoteFlags flags = RemoteFlag("s3:b");
  flags.virtual_host = true;
  auto spec = ResolveRemote(flags, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_FALSE(spec->s3.path_style);
}

TEST(ResolveRemoteTest, FlagsCarriedIntoTheS3Config) {
  FakeEnv env = S3Env();
  RemoteFlags flags = RemoteFlag("s3:b");
  flags.transfers = 4;
  flags.ca_bundle = "/etc/ssl/custom.pem";
  flags.retries = 3;
  auto spec = ResolveRemote(flags, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.transfers, 4);
  EXPECT_EQ(spec->s3.ca_bundle, "/etc/ssl/custom.pem");
  EXPECT_EQ(spec->s3.max_attempts, 3);
}

TEST(ResolveRemoteTest, StallTimeoutIsCarriedAndChecked) {
  FakeEnv env = S3Env();
  RemoteFlags flags = RemoteFlag("s3:b");
  auto spec = ResolveRemote(flags, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.stall_timeout, std::chrono::seconds(30));
  flags.stall_timeout = "2s";
  spec = ResolveRemote(flags, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.stall_timeout, std::chrono::seconds(2));
  for (const char* bad : {"0", "500ms", "2h", "soon"}) {
    flags.stall_timeout = bad;
    spec = ResolveRemote(flags, env.Reader());
    ASSERT_FALSE(spec) << bad;
    EXPECT_EQ(spec.error().kind, ErrorKind::kConfig) << bad;
    EXPECT_NE(spec.error().message.find("--stall-timeout"), std::string::npos) << bad;
  }
}

TEST(ResolveRemoteTest, ZeroRetriesStillMakesOneAttempt) {
  FakeEnv env = S3Env();
  RemoteFlags flags = RemoteFlag("s3:b");
  flags.retries = 0;
  auto spec = ResolveRemote(flags, env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_EQ(spec->s3.max_attempts, 1);
}

TEST(ResolveRemoteTest, TransfersOutOfRangeIsConfigError) {
  FakeEnv env = S3Env();
  for (int n : {0, -1, 257}) {
    RemoteFlags flags = RemoteFlag("s3:b");
    flags.transfers = n;
    EXPECT_TRUE(ConfigError(ResolveRemote(flags, env.Reader()), "--transfers")) << n;
  }
  for (int n : {1, 256}) {
    RemoteFlags flags = RemoteFlag("s3:b");
    flags.transfers = n;
    EXPECT_TRUE(ResolveRemote(flags, env.Reader())) << n;
  }
}

TEST(ResolveRemoteTest, TypeOtherThanS3IsConfigErrorNamingTheVariable) {
  FakeEnv env = S3Env();
  env.Set("RCLONE_CONFIG_S3_TYPE", "drive");
  auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
  EXPECT_TRUE(ConfigError(spec, "RCLONE_CONFIG_S3_TYPE"));
  EXPECT_TRUE(ConfigError(spec, "drive"));

  FakeEnv named({{"RCLONE_CONFIG_GD_TYPE", "drive"},
                 {"RCLONE_CONFIG_GD_ACCESS_KEY_ID", "k"},
                 {"RCLONE_CONFIG_GD_SECRET_ACCESS_KEY", kSecret}});
  EXPECT_TRUE(
      ConfigError(ResolveRemote(RemoteFlag("gd:b"), named.Reader()), "RCLONE_CONFIG_GD_TYPE"));
}

TEST(ResolveRemoteTest, TypeS3InAnyCaseAccepted) {
  FakeEnv env = S3Env();
  env.Set("RCLONE_CONFIG_S3_TYPE", "S3");
  EXPECT_TRUE(ResolveRemote(RemoteFlag("s3:b"), env.Reader()));
}

TEST(ResolveRemoteTest, MissingSecretNamesTheRcloneVariable) {
  FakeEnv env = S3Env();
  env.Unset("RCLONE_CONFIG_S3_SECRET_ACCESS_KEY");
  env.Set("SYNC_BUCKET", "b");
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  EXPECT_TRUE(ConfigError(spec, "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY"));
}

TEST(ResolveRemoteTest, MissingAccessKeyNamesTheRcloneVariable) {
  FakeEnv env = S3Env();
  env.Unset("RCLONE_CONFIG_S3_ACCESS_KEY_ID");
  auto spec = ResolveRemote(RemoteFlag("s3:b"), env.Reader());
  EXPECT_TRUE(ConfigError(spec, "RCLONE_CONFIG_S3_ACCESS_KEY_ID"));
}

TEST(ResolveRemoteTest, MissingSecretOfNamedRemoteNamesItsVariable) {
  FakeEnv env({{"RCLONE_CONFIG_MY_MINIO_ACCESS_KEY_ID", "k"}});
  auto spec = ResolveRemote(RemoteFlag("my-minio:b"), env.Reader());
  EXPECT_TRUE(ConfigError(spec, "RCLONE_CONFIG_MY_MINIO_SECRET_ACCESS_KEY"));
}

TEST(ResolveRemoteTest, MissingEverythingMentionsSyncBucket) {
  FakeEnv env;
  auto spec = ResolveRemote(RemoteFlags{}, env.Reader());
  EXPECT_TRUE(ConfigError(spec, "SYNC_BUCKET"));
  EXPECT_TRUE(ConfigError(spec, "--remote"));
}

TEST(ResolveRemoteTest, SyncPathWithoutSyncBucketStillNeedsTheBucket) {
  FakeEnv env = S3Env();
  env.Set("SYNC_PATH", "app");
  EXPECT_TRUE(ConfigError(ResolveRemote(RemoteFlags{}, env.Reader()), "SYNC_BUCKET"));
}

TEST(ResolveRemoteTest, EmptyOrInvalidBucketNamesItsSource) {
  FakeEnv env = S3Env();
  env.Set("SYNC_BUCKET", "/");
  EXPECT_TRUE(ConfigError(ResolveRemote(RemoteFlags{}, env.Reader()), "SYNC_BUCKET"));
  env.Set("SYNC_BUCKET", "bad bucket");
  EXPECT_TRUE(ConfigError(ResolveRemote(RemoteFlags{}, env.Reader()), "SYNC_BUCKET"));
  EXPECT_TRUE(ConfigError(ResolveRemote(RemoteFlag("s3:"), env.Reader()), "--remote"));
  EXPECT_TRUE(ConfigError(ResolveRemote(RemoteFlag("s3:bad\\name/x"), env.Reader()), "--remote"));
}

TEST(ResolveRemoteTest, LocalPathsSelectTheLocalRemote) {
  FakeEnv env;
  for (const char* path :
       {"./demo-backup", "/backup/app", "rel/dir", "../up", "plain", "./odd:name", "/mnt/a:b"}) {
    auto spec = ResolveRemote(RemoteFlag(path), env.Reader());
    ASSERT_TRUE(spec) << path << ": " << Text(spec);
    EXPECT_TRUE(spec->is_local) << path;
    EXPECT_EQ(spec->local_root, std::filesystem::path(path));
    EXPECT_EQ(spec->display, path);
  }
}

TEST(ResolveRemoteTest, LocalPathNeedsNoCredentials) {
  FakeEnv env({{"SYNC_BUCKET", "ignored"}});
  auto spec = ResolveRemote(RemoteFlag("/backup/app"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  EXPECT_TRUE(spec->is_local);
  EXPECT_FALSE(env.WasRead("RCLONE_CONFIG_S3_SECRET_ACCESS_KEY"));
}

TEST(ResolveRemoteTest, SecretNeverAppearsInErrorMessages) {
  std::vector<std::pair<FakeEnv, RemoteFlags>> cases;
  {
    FakeEnv e = S3Env();
    e.Set("RCLONE_CONFIG_S3_TYPE", "drive");
    cases.emplace_back(e, RemoteFlag("s3:b"));
  }
  {
    FakeEnv e = S3Env();
    e.Set("RCLONE_CONFIG_S3_ENDPOINT", "ftp://x");
    cases.emplace_back(e, RemoteFlag("s3:b"));
  }
  {
    FakeEnv e = S3Env();
    e.Unset("RCLONE_CONFIG_S3_ACCESS_KEY_ID");
    cases.emplace_back(e, RemoteFlag("s3:b"));
  }
  {
    FakeEnv e = S3Env();
    cases.emplace_back(e, RemoteFlag("s3:bad bucket/x"));
  }
  {
    FakeEnv e = S3Env();
    RemoteFlags f = RemoteFlag("s3:b");
    f.transfers = 0;
    cases.emplace_back(e, f);
  }
  {
    FakeEnv e = S3Env();  // no SYNC_BUCKET, no --remote
    cases.emplace_back(e, RemoteFlags{});
  }
  {
    FakeEnv e({{"AWS_SECRET_ACCESS_KEY", kSecret}, {"SYNC_BUCKET", "b"}});
    cases.emplace_back(e, RemoteFlags{});
  }
  {
    FakeEnv e({{"AWS_SECRET_ACCESS_KEY", kSecret},
               {"AWS_ACCESS_KEY_ID", "k"},
               {"AWS_ENDPOINT_URL", "gopher://x"},
               {"SYNC_BUCKET", "b"}});
    cases.emplace_back(e, RemoteFlags{});
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto spec = ResolveRemote(cases[i].second, cases[i].first.Reader());
    ASSERT_FALSE(spec) << "case " << i << " should fail";
    EXPECT_EQ(spec.error().kind, ErrorKind::kConfig) << i;
    EXPECT_EQ(spec.error().message.find(kSecret), std::string::npos)
        << "case " << i << ": " << spec.error().message;
  }
}

TEST(ResolveRemoteTest, OpenRemoteBuildsTheLocalRemote) {
  testing::TempDir tmp("cfgsync-remote-config");
  FakeEnv env;
  auto spec = ResolveRemote(RemoteFlag((tmp.path() / "backup").string()), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  auto remote = OpenRemote(*spec);
  ASSERT_NE(remote, nullptr);
  EXPECT_EQ(remote->Describe(), (tmp.path() / "backup").string());
  EXPECT_TRUE(remote->CheckRoot());
}

TEST(ResolveRemoteTest, OpenRemoteBuildsAnS3RemoteWithoutSecretInDescribe) {
  FakeEnv env = S3Env();
  auto spec = ResolveRemote(RemoteFlag("s3:bucket/path"), env.Reader());
  ASSERT_TRUE(spec) << Text(spec);
  auto remote = OpenRemote(*spec);
  ASSERT_NE(remote, nullptr);
  EXPECT_EQ(remote->Describe().find(kSecret), std::string::npos) << remote->Describe();
  EXPECT_NE(remote->Describe().find("bucket"), std::string::npos) << remote->Describe();
}

TEST(ProcessEnvTest, ReadsVariablesAndTreatsEmptyAsUnset) {
  const char* name = "CFGSYNC_REMOTE_CONFIG_TEST_VARIABLE";
  EnvReader env = ProcessEnv();
  ::unsetenv(name);
  EXPECT_EQ(env(name), std::nullopt);
  ::setenv(name, "value", 1);
  EXPECT_EQ(env(name), "value");
  ::setenv(name, "", 1);
  EXPECT_EQ(env(name), std::nullopt);
  ::unsetenv(name);
}

}  // namespace
}  // namespace cfgsync

// Cross-checks against clients nobody here wrote: what cfgsync's S3 remote uploads must read back
// identically through rclone and awscli, and what `rclone copy -M` uploads must read back through
// cfgsync with the same mtime, mode, uid and gid. Runs against moto_server.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "remote/remote.h"
#include "s3/s3_remote.h"
#include "support/files.h"
#include "support/remote_files.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::ReadFile;
using testing::RunCommand;
using testing::ServerKind;
using testing::ShellQuote;
using testing::TempDir;
using testing::TestServer;
using testing::WriteFile;

constexpr char kBucket[] = "cfgsync-crosscheck";

// One file as both sides should see it.
struct Sample {
  std::string key;
  std::string content;
  FileMeta meta;
};

FileMeta Meta(std::int64_t sec, std::uint32_t nsec, std::uint32_t mode, std::uint32_t uid,
              std::uint32_t gid) {
  FileMeta meta;
  meta.mtime = FileTime{sec, nsec};
  meta.mode = mode;
  meta.uid = uid;
  meta.gid = gid;
  return meta;
}

// Owners other than our own can only be set by root; otherwise the samples use ours.
std::uint32_t OwnerOr(std::uint32_t wanted, std::uint32_t own) {
  return geteuid() == 0 ? wanted : own;
}

std::vector<Sample> Samples() {
  std::uint32_t uid = geteuid(), gid = getegid();
  return {
      {"app.ini", "name=app\nport=8080\n",
       Meta(1709618828, 123456789, 0100640, OwnerOr(1000, uid), OwnerOr(1000, gid))},
      {"conf.d/a b+c%d.conf", "x = 1\n",
       Meta(1700000000, 0, 0100755, OwnerOr(0, uid), OwnerOr(0, gid))},
      {"keys/server.key", std::string("bin\0ary\xff\n", 9),
       Meta(1600000000, 500000000, 0100600, OwnerOr(1234, uid), OwnerOr(5678, gid))},
  };
}

// An RFC 3339 time in UTC as rclone prints it: lsjson's ModTime always has 9 fraction digits
// (`fixed_nanos`), metadata values drop trailing zeros (Go's RFC3339Nano).
std::string Rfc3339(FileTime t, bool fixed_nanos) {
  std::time_t sec = static_cast<std::time_t>(t.sec);
  std::tm tm{};
  gmtime_r(&sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  char frac[16];
  std::snprintf(frac, sizeof(frac), ".%09u", t.nsec);
  std::string f = frac;
  while (!fixed_nanos && (f.back() == '0' || f.back() == '.')) f.pop_back();
  out += f;
  return out + "Z";
}

std::string ModeText(std::uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%o", mode);
  return buf;
}

// Writes `sample` under `dir` with its mode, owner and mtime (nanoseconds included).
void WriteSampleFile(const fs::path& dir, const Sample& sample) {
  fs::path path = dir / sample.key;
  ASSERT_NO_FATAL_FAILURE(WriteFile(path, sample.content));
  ASSERT_EQ(chmod(path.c_str(), *sample.meta.mode & 07777), 0) << path;
  ASSERT_EQ(lchown(path.c_str(), *sample.meta.uid, *sample.meta.gid), 0) << path;
  timespec times[2] = {
      {0, UTIME_OMIT},
      {static_cast<time_t>(sample.meta.mtime->sec), static_cast<long>(sample.meta.mtime->nsec)}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

std::string Describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

class CrossCheckTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    auto launched = TestServer::Launch(ServerKind::kMoto, {kBucket});
    if (launched) {
      server() = std::move(*launched);
    } else {
      launch_error() =
          std::string(KindName(launched.error().kind)) + ": " + launched.error().message;
    }
  }
  static void TearDownTestSuite() { server().reset(); }

 protected:
  void SetUp() override {
    ASSERT_TRUE(server()) << "starting moto_server: " << launch_error();
    WriteFile(scratch_.path() / "rclone.conf", "");
  }

  // Runs rclone configured for the server as remote "s3:".
  CommandResult Rclone(const std::string& args) const {
    std::string env =
        "env -u AWS_CA_BUNDLE TZ=UTC RCLONE_CONFIG=" +
        ShellQuote((scratch_.path() / "rclone.conf").string()) +
        " RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other" +
        " RCLONE_CONFIG_S3_ACCESS_KEY_ID=" + server()->access_key() +
        " RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=" + server()->secret_key() +
        " RCLONE_CONFIG_S3_REGION=us-east-1 RCLONE_CONFIG_S3_ENDPOINT=" + server()->endpoint();
    return RunCommand(env + " rclone " + args);
  }

  // Runs `aws s3api` against the server.
  CommandResult Aws(const std::string& args) const {
    std::string env = "env AWS_ACCESS_KEY_ID=" + server()->access_key() +
                      " AWS_SECRET_ACCESS_KEY=" + server()->secret_key() +
                      " AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true";
    return RunCommand(env + " aws --endpoint-url " + server()->endpoint() + " s3api " + args);
  }

  std::unique_ptr<Remote> MakeRemote(std::string_view prefix) const {
    return s3::MakeS3Remote(server()->Config(kBucket, prefix));
  }

  static std::unique_ptr<TestServer>& server() {
    static std::unique_ptr<TestServer> instance;
    return instance;
  }
  static std::string& launch_error() {
    static std::string text;
    return text;
  }

  TempDir scratch_{"cfgsync-crosscheck"};
};

// Checks one entry of `rclone lsjson -M` against what was uploaded.
void ExpectRcloneEntry(const json& entry, const Sample& sample) {
  SCOPED_TRACE(sample.key);
  EXPECT_EQ(entry.value("Size", -1), static_cast<int>(sample.content.size()));
  EXPECT_EQ(entry.value("ModTime", ""), Rfc3339(*sample.meta.mtime, true));
  json metadata = entry.value("Metadata", json::object());
  EXPECT_EQ(metadata.value("mtime", ""), Rfc3339(*sample.meta.mtime, false));
  EXPECT_EQ(metadata.value("mode", ""), ModeText(*sample.meta.mode));
  EXPECT_EQ(metadata.value("uid", ""), std::to_string(*sample.meta.uid));
  EXPECT_EQ(metadata.value("gid", ""), std::to_string(*sample.meta.gid));
}

// Checks a file restored by `rclone copy -M` against what was uploaded.
void ExpectRestoredFile(const fs::path& path, const Sample& sample) {
  SCOPED_TRACE(sample.key);
  struct stat st {};
  ASSERT_EQ(lstat(path.c_str(), &st), 0) << path << " missing";
  EXPECT_EQ(ReadFile(path), sample.content);
  EXPECT_EQ(st.st_mtim.tv_sec, sample.meta.mtime->sec);
  EXPECT_EQ(st.st_mtim.tv_nsec, static_cast<long>(sample.meta.mtime->nsec));
  EXPECT_EQ(st.st_mode, *sample.meta.mode);
  EXPECT_EQ(st.st_uid, *sample.meta.uid);
  EXPECT_EQ(st.st_gid, *sample.meta.gid);
}

// Checks the JSON of `aws s3api head-object/get-object` against what was uploaded.
void ExpectAwsObject(const json& object, const Sample& sample) {
  SCOPED_TRACE(sample.key);
  EXPECT_EQ(object.value("ContentLength", -1), static_cast<int>(sample.content.size()));
  json metadata = object.value("Metadata", json::object());
  EXPECT_EQ(metadata.value("mtime", ""), FormatMtime(*sample.meta.mtime));
  EXPECT_EQ(metadata.value("mode", ""), ModeText(*sample.meta.mode));
  EXPECT_EQ(metadata.value("uid", ""), std::to_string(*sample.meta.uid));
  EXPECT_EQ(metadata.value("gid", ""), std::to_string(*sample.meta.gid));
}

TEST_F(CrossCheckTest, CfgsyncUploadsReadBackWithRclone) {
  auto remote = MakeRemote("from-cfgsync");
  for (const auto& sample : Samples()) {
    fs::path src = scratch_.path() / "src.tmp";
    ASSERT_NO_FATAL_FAILURE(WriteFile(src, sample.content));
    auto put = testing::PutFile(*remote, src, sample.key, sample.meta);
    ASSERT_TRUE(put) << sample.key << ": " << put.error().message;
  }

  auto listed = Rclone("lsjson -M -R --files-only s3:" + std::string(kBucket) + "/from-cfgsync");
  ASSERT_EQ(listed.exit_code, 0) << Describe(listed);
  json entries = json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(entries.is_array()) << listed.out;
  std::map<std::string, json> by_path;
  for (const auto& entry : entries) by_path[entry.value("Path", "")] = entry;
  ASSERT_EQ(by_path.size(), Samples().size()) << listed.out;
  for (const auto& sample : Samples()) {
    ASSERT_TRUE(by_path.contains(sample.key)) << sample.key << " not in\n" << listed.out;
    ExpectRcloneEntry(by_path[sample.key], sample);
  }

  fs::path restored = scratch_.path() / "restored";
  auto copied = Rclone("copy -M s3:" + std::string(kBucket) + "/from-cfgsync " +
                       ShellQuote(restored.string()));
  ASSERT_EQ(copied.exit_code, 0) << Describe(copied);
  for (const auto& sample : Samples()) ExpectRestoredFile(restored / sample.key, sample);
}

TEST_F(CrossCheckTest, CfgsyncUploadsReadBackWithAwscli) {
  auto remote = MakeRemote("from-cfgsync-aws");
  auto samples = Samples();
  for (const auto& sample : samples) {
    fs::path src = scratch_.path() / "src.tmp";
    ASSERT_NO_FATAL_FAILURE(WriteFile(src, sample.content));
    auto put = testing::PutFile(*remote, src, sample.key, sample.meta);
    ASSERT_TRUE(put) << sample.key << ": " << put.error().message;
  }

  fs::path out = scratch_.path() / "aws-get.out";
  auto got = Aws("get-object --bucket " + std::string(kBucket) + " --key " +
                 ShellQuote("from-cfgsync-aws/" + samples[2].key) + " " + ShellQuote(out.string()));
  ASSERT_EQ(got.exit_code, 0) << Describe(got);
  ExpectAwsObject(json::parse(got.out, nullptr, false), samples[2]);
  EXPECT_EQ(ReadFile(out), samples[2].content);

  auto head = Aws("head-object --bucket " + std::string(kBucket) + " --key " +
                  ShellQuote("from-cfgsync-aws/" + samples[1].key));
  ASSERT_EQ(head.exit_code, 0) << Describe(head);
  ExpectAwsObject(json::parse(head.out, nullptr, false), samples[1]);
}

TEST_F(CrossCheckTest, RcloneUploadsReadBackThroughCfgsync) {
  std::uint32_t uid = geteuid(), gid = getegid();
  std::vector<Sample> samples = {
      {"a.conf", "a=1\n",
       Meta(1709618828, 123456789, 0100600, OwnerOr(1000, uid), OwnerOr(1000, gid))},
      {"b.conf", "b=2\n",
       Meta(1709618829, 100000000, 0100644, OwnerOr(1001, uid), OwnerOr(1002, gid))},
      {"bin/run me.sh", "#!/bin/sh\necho hi\n", Meta(1709618830, 0, 0100755, uid, gid)},
  };
  fs::path local = scratch_.path() / "local";
  for (const auto& sample : samples) ASSERT_NO_FATAL_FAILURE(WriteSampleFile(local, sample));
  auto copied = Rclone("copy -M " + ShellQuote(local.string()) + " s3:" + std::string(kBucket) +
                       "/from-rclone");
  ASSERT_EQ(copied.exit_code, 0) << Describe(copied);

  auto remote = MakeRemote("from-rclone");
  auto listed = remote->List("");
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), samples.size());
  for (const auto& sample : samples) {
    SCOPED_TRACE(sample.key);
    auto stat = remote->Stat(sample.key);
    ASSERT_TRUE(stat) << stat.error().message;
    EXPECT_EQ(stat->size, sample.content.size());
    ASSERT_TRUE(stat->meta.has_value());
    EXPECT_EQ(stat->meta->mtime, sample.meta.mtime);
    EXPECT_EQ(stat->meta->mode, sample.meta.mode);
    EXPECT_EQ(stat->meta->uid, sample.meta.uid);
    EXPECT_EQ(stat->meta->gid, sample.meta.gid);
    fs::path dest = scratch_.path() / "got.tmp";
    auto got = testing::GetFile(*remote, sample.key, dest);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(ReadFile(dest), sample.content);
  }
}

}  // namespace
}  // namespace cfgsync

// End-to-end tests of `cfgsync restore` (the init container): the real binary, configured
// through the environment exactly as a Deployment configures it, against moto_server and s3rver.
// What cfgsync itself would never upload (folder markers, hostile keys, rclone's metadata) is
// planted with awscli and rclone. Each server starts once per test suite; each test works under
// its own prefix (SYNC_PATH).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs.h"
#include "support/files.h"
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

constexpr char kBucket[] = "cfgsync-restore";
constexpr char kMissingBucket[] = "cfgsync-restore-never-created";
constexpr char kTempPrefix[] = ".cfgsync-tmp-";

std::string Describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" +
         r.err;
}

void SetMtime(const fs::path& path, std::int64_t sec, long nsec) {
  timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(sec), nsec}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// Writes a file with a given mtime (and optionally mode and owner).
void WriteFileAt(const fs::path& path, std::string_view content, std::int64_t sec, long nsec = 0) {
  ASSERT_NO_FATAL_FAILURE(WriteFile(path, content));
  ASSERT_NO_FATAL_FAILURE(SetMtime(path, sec, nsec));
}

bool Exists(const fs::path& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

struct FileState {
  std::string content;
  std::int64_t sec = 0;
  long nsec = 0;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::optional<FileState> StateOf(const fs::path& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return std::nullopt;
  return FileState{ReadFile(path), st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                   st.st_mode,     st.st_uid,         st.st_gid};
}

// Every entry below `root` (relative paths, sorted; folders end with '/'). Symlinks are listed,
// never followed.
std::set<std::string> TreeOf(const fs::path& root) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path().filename() == kMarkerName) continue;  // cfgsync's own, tested apart
    std::string rel = fs::relative(it->path(), root).string();
    out.insert(it->is_directory() && !it->is_symlink() ? rel + "/" : rel);
  }
  return out;
}

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += "  [" + i + "]\n";
  return out;
}

// The number in the summary line after `label`, e.g. Count(err, "restored (\\d+) files").
std::optional<long> SummaryNumber(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return std::nullopt;
  return std::stol(m[1].str());
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The lines reporting errors: "cfgsync: ..." before logging is set up, log lines at level
// error or critical after.
std::vector<std::string> ErrorLines(const std::string& err) {
  static const std::regex kError(R"(^(cfgsync: |\S+ (error|critical) ))");
  std::vector<std::string> out;
  for (auto& line : Lines(err)) {
    if (std::regex_search(line, kError)) out.push_back(line);
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A TCP port on 127.0.0.1 nobody listens on (bound once by the kernel's choice, then closed).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return 1;  // port 1 is closed on any sane test machine
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// `stat` lines (mode, mtime, owner, size, mtime with ns) of every file below `dir` but
// cfgsync's marker, from the coreutils tool rather than our own code.
std::string StatListing(const fs::path& dir) {
  auto r = RunCommand("cd " + ShellQuote(dir.string()) +
                      " && find . -type f ! -name .cfgsync-marker -print0 | LC_ALL=C sort -z | "
                      "TZ=UTC xargs -0 -r stat -c "
                      "'%n|%a|%Y|%u|%g|%s|%y'");
  return r.exit_code == 0 ? r.out : "stat failed: " + Describe(r);
}

std::string Md5Listing(const fs::path& dir) {
  auto r = RunCommand("cd " + ShellQuote(dir.string()) +
                      " && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum");
  return r.exit_code == 0 ? r.out : "md5sum failed: " + Describe(r);
}

// Where cfgsync finds the backup: everything a Deployment would put in the environment.
struct Target {
  std::string bucket = kBucket;
  std::string prefix;    // SYNC_PATH
  std::string access;    // "" for the server's
  std::string secret;    // "" for the server's
  std::string endpoint;  // "" for the server's
};

Target TargetAt(std::string bucket, std::string prefix) {
  Target t;
  t.bucket = std::move(bucket);
  t.prefix = std::move(prefix);
  return t;
}

Target WithCredentials(Target t, std::string access, std::string secret) {
  t.access = std::move(access);
  t.secret = std::move(secret);
  return t;
}

std::string EnvFor(const TestServer* server, const Target& t) {
  std::string access = !t.access.empty() ? t.access : server ? server->access_key() : "test";
  std::string secret = !t.secret.empty() ? t.secret : server ? server->secret_key() : "test";
  std::string endpoint = !t.endpoint.empty() ? t.endpoint : server ? server->endpoint() : "";
  return "RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other"
         " RCLONE_CONFIG_S3_ACCESS_KEY_ID=" +
         ShellQuote(access) + " RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=" + ShellQuote(secret) +
         " RCLONE_CONFIG_S3_ENDPOINT=" + ShellQuote(endpoint) +
         " SYNC_BUCKET=" + ShellQuote(t.bucket) + " SYNC_PATH=" + ShellQuote(t.prefix);
}

CommandResult RunCfgsync(const TestServer* server, const Target& t, const std::string& args) {
  return RunCommand(EnvFor(server, t) + " " + ShellQuote(CFGSYNC_BINARY) + " " + args);
}

// Servers shared by one test suite, and helpers to drive cfgsync, awscli and rclone.
class RestoreFixture : public ::testing::Test {
 protected:
  // Servers start on first use, so a test run alone (as ctest runs them) starts only its own,
  // and stay up until the suite ends.
  static void StopServers() {
    Servers().clear();
    Errors().clear();
  }

  static std::map<ServerKind, std::unique_ptr<TestServer>>& Servers() {
    static std::map<ServerKind, std::unique_ptr<TestServer>> servers;
    return servers;
  }
  static std::map<ServerKind, std::string>& Errors() {
    static std::map<ServerKind, std::string> errors;
    return errors;
  }

  void SetUp() override { ASSERT_NO_FATAL_FAILURE(WriteFile(scratch_.path() / "rclone.conf", "")); }

  // Fails the test unless `kind` runs; use as ASSERT_NO_FATAL_FAILURE(UseServer(kind)).
  void UseServer(ServerKind kind) {
    if (!Servers()[kind] && !Errors().contains(kind)) {
      auto launched = TestServer::Launch(kind, {kBucket});
      if (launched) {
        Servers()[kind] = std::move(*launched);
      } else {
        Errors()[kind] =
            std::string(KindName(launched.error().kind)) + ": " + launched.error().message;
      }
    }
    ASSERT_TRUE(Servers()[kind]) << "starting " << testing::ServerKindName(kind) << ": "
                                 << Errors()[kind];
    server_ = Servers()[kind].get();
  }

  TestServer& server() const { return *server_; }

  // SYNC_PATH unique to the running test ("t-Name-moto").
  std::string Prefix() const {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string out = "t-";
    for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
    return out;
  }

  Target At(const std::string& prefix) const { return TargetAt(kBucket, prefix); }

  CommandResult Cfgsync(const Target& t, const std::string& args) const {
    return RunCfgsync(server_, t, args);
  }

  // `cfgsync restore --dir DIR ARGS` from the backup under `prefix`.
  CommandResult Restore(const std::string& prefix, const fs::path& dir,
                        const std::string& args = "") const {
    return Cfgsync(At(prefix), "restore --dir " + ShellQuote(dir.string()) + " " + args);
  }

  // Uploads `dir` to `prefix` with `cfgsync sync`.
  void Push(const std::string& prefix, const fs::path& dir, const std::string& args = "") const {
    auto r = Cfgsync(At(prefix), "sync --dir " + ShellQuote(dir.string()) + " " + args);
    ASSERT_EQ(r.exit_code, 0) << "cfgsync sync: " << Describe(r);
  }

  // `aws s3api ARGS` against the server.
  CommandResult Aws(const std::string& args) const {
    return RunCommand("env AWS_ACCESS_KEY_ID=" + server_->access_key() +
                      " AWS_SECRET_ACCESS_KEY=" + server_->secret_key() +
                      " AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true aws "
                      "--endpoint-url " +
                      server_->endpoint() + " s3api " + args);
  }

  // Plants objects with `aws s3api put-object` (in parallel: awscli takes ~1 s to start).
  // An empty body file creates a zero-size object (a folder marker when the key ends in '/').
  void AwsPutAll(const std::vector<std::pair<std::string, fs::path>>& objects) const {
    std::string script;
    int i = 0;
    for (const auto& [key, body] : objects) {
      std::string log = (scratch_.path() / ("aws-put-" + std::to_string(i++) + ".log")).string();
      script += "( env AWS_ACCESS_KEY_ID=" + server_->access_key() +
                " AWS_SECRET_ACCESS_KEY=" + server_->secret_key() +
                " AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true aws --endpoint-url " +
                server_->endpoint() + " s3api put-object --bucket " + kBucket + " --key " +
                ShellQuote(key) + (body.empty() ? "" : " --body " + ShellQuote(body.string())) +
                " >" + ShellQuote(log) + " 2>&1 || { echo " + ShellQuote("FAILED " + key) +
                "; cat " + ShellQuote(log) + "; } ) &\n";
    }
    script += "wait\n";
    auto r = RunCommand(script);
    ASSERT_EQ(r.out, "") << "aws s3api put-object failed:\n" << r.out << r.err;
  }

  // Every key under `prefix`/ as awscli lists it.
  std::set<std::string> AwsKeys(const std::string& prefix) const {
    auto r = Aws("list-objects-v2 --bucket " + std::string(kBucket) + " --prefix " +
                 ShellQuote(prefix + "/") + " --output json");
    std::set<std::string> keys;
    if (r.exit_code != 0) {
      ADD_FAILURE() << "aws list: " << Describe(r);
      return keys;
    }
    json j = json::parse(r.out.empty() ? "{}" : r.out, nullptr, false);
    if (j.is_object() && j.contains("Contents")) {
      for (const auto& o : j["Contents"]) keys.insert(o.value("Key", ""));
    }
    return keys;
  }

  // rclone configured for the server as remote "s3:".
  CommandResult Rclone(const std::string& args) const {
    return RunCommand("env -u AWS_CA_BUNDLE TZ=UTC RCLONE_CONFIG=" +
                      ShellQuote((scratch_.path() / "rclone.conf").string()) +
                      " RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other" +
                      " RCLONE_CONFIG_S3_ACCESS_KEY_ID=" + server_->access_key() +
                      " RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=" + server_->secret_key() +
                      " RCLONE_CONFIG_S3_REGION=us-east-1 RCLONE_CONFIG_S3_ENDPOINT=" +
                      server_->endpoint() + " rclone " + args);
  }

  const fs::path& scratch() const { return scratch_.path(); }

 private:
  TempDir scratch_{"cfgsync-restore"};
  TestServer* server_ = nullptr;
};

// Tests that run against both servers.
class RestoreCliTest : public RestoreFixture, public ::testing::WithParamInterface<ServerKind> {
 public:
  static void TearDownTestSuite() { StopServers(); }

 protected:
  void SetUp() override {
    RestoreFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(UseServer(GetParam()));
  }
};

void ExpectFirstDeployment(const CommandResult& r, std::string_view what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.err.find("nothing to restore under"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("first deployment"), std::string::npos) << Describe(r);
}

TEST_P(RestoreCliTest, AbsentPrefixIsAFirstDeployment) {
  // Neighbouring prefixes with content must not count as this backup.
  fs::path other = scratch() / "other";
  ASSERT_NO_FATAL_FAILURE(WriteFile(other / "neighbour.conf", "n=1\n"));
  ASSERT_NO_FATAL_FAILURE(Push(Prefix() + "x", other));
  ASSERT_NO_FATAL_FAILURE(Push(Prefix() + "-old", other));

  fs::path dir = scratch() / "config";
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(dir / "local.conf", "mine\n", 1650000000, 5));
  auto r = Restore(Prefix(), dir);
  ExpectFirstDeployment(r, "existing --dir");
  EXPECT_EQ(TreeOf(dir), (std::set<std::string>{"local.conf"}));
  auto state = StateOf(dir / "local.conf");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->content, "mine\n");
  EXPECT_EQ(state->sec, 1650000000);
  EXPECT_EQ(state->nsec, 5);

  ExpectFirstDeployment(Restore(Prefix(), scratch() / "absent"), "absent --dir");
  ExpectFirstDeployment(Restore(Prefix(), scratch() / "dry", "--dry-run"), "--dry-run");
  EXPECT_FALSE(Exists(scratch() / "dry"));
}

// A prefix holding only its own folder marker ("app/", as the S3 console's "Create folder"
// makes) is just as empty.
TEST_P(RestoreCliTest, PrefixWithOnlyItsFolderMarkerIsAFirstDeployment) {
  ASSERT_NO_FATAL_FAILURE(AwsPutAll({{Prefix() + "/", ""}}));
  fs::path dir = scratch() / "config";
  auto r = Restore(Prefix(), dir);
  ExpectFirstDeployment(r, "prefix with only its marker");
  EXPECT_EQ(SummaryNumber(r.err, R"(rejected (\d+) keys)").value_or(0), 0)
      << "the prefix's own folder marker is not an unsafe key\n"
      << Describe(r);
  EXPECT_EQ(TreeOf(dir), std::set<std::string>{});
}

TEST_P(RestoreCliTest, EmptyBucketWithoutSyncPathIsAFirstDeployment) {
  std::string bucket = "cfgsync-restore-empty-" + std::string(testing::ServerKindName(GetParam()));
  auto created = server().CreateBucket(bucket);
  ASSERT_TRUE(created) << created.error().message;
  auto r = RunCfgsync(&server(), TargetAt(bucket, ""),
                      "restore --dir " + ShellQuote((scratch() / "config").string()));
  ExpectFirstDeployment(r, "empty bucket");
}

TEST_P(RestoreCliTest, MissingBucketFailsNamingItUnlessAllowed) {
  Target t = TargetAt(kMissingBucket, Prefix());
  fs::path dir = scratch() / "config";
  auto r = RunCfgsync(&server(), t, "restore --dir " + ShellQuote(dir.string()));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  auto errors = ErrorLines(r.err);
  ASSERT_EQ(errors.size(), 1u) << Describe(r);
  EXPECT_NE(errors[0].find(kMissingBucket), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("SYNC_BUCKET"), std::string::npos) << errors[0];
  EXPECT_EQ(r.err.find("nothing to restore"), std::string::npos) << Describe(r);
  EXPECT_FALSE(Exists(dir));

  auto allowed =
      RunCfgsync(&server(), t, "restore --allow-missing-bucket --dir " + ShellQuote(dir.string()));
  ExpectFirstDeployment(allowed, "--allow-missing-bucket");

  // The same through the environment, as a Deployment would set it.
  auto by_env =
      RunCommand("CFGSYNC_ALLOW_MISSING_BUCKET=true " + EnvFor(&server(), t) + " " +
                 ShellQuote(CFGSYNC_BINARY) + " restore --dir " + ShellQuote(dir.string()));
  ExpectFirstDeployment(by_env, "CFGSYNC_ALLOW_MISSING_BUCKET");
}

TEST_P(RestoreCliTest, ConflictPoliciesDecideAndNeverDeleteLocalFiles) {
  constexpr std::int64_t kRemoteTime = 1700000000;
  fs::path src = scratch() / "src";
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "older_local.conf", "remote-older\n", kRemoteTime, 5));
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "newer_local.conf", "remote-newer\n", kRemoteTime));
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "same_size.conf", "AAAA\n", kRemoteTime));
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "sub/only_remote.conf", "r\n", kRemoteTime, 7));
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));

  struct Case {
    std::string policy;
    bool older_from_remote, newer_from_remote, same_size_from_remote;
    long kept;
  };
  for (const Case& c : {Case{"newer", true, false, true, 1}, Case{"remote", true, true, true, 0},
                        Case{"local", false, false, false, 3}}) {
    SCOPED_TRACE("--on-conflict " + c.policy);
    fs::path dir = scratch() / ("dst-" + c.policy);
    ASSERT_NO_FATAL_FAILURE(WriteFileAt(dir / "older_local.conf", "local\n", 1600000000));
    ASSERT_NO_FATAL_FAILURE(WriteFileAt(dir / "newer_local.conf", "local\n", 1800000000));
    ASSERT_NO_FATAL_FAILURE(WriteFileAt(dir / "same_size.conf", "BBBB\n", 1600000000));
    ASSERT_NO_FATAL_FAILURE(WriteFileAt(dir / "only_local.conf", "mine\n", 1650000000));
    ASSERT_NO_FATAL_FAILURE(WriteFileAt(dir / "sub/only_local.conf", "mine too\n", 1650000000));

    auto r = Restore(Prefix(), dir, "--on-conflict " + c.policy);
    ASSERT_EQ(r.exit_code, 0) << Describe(r);

    auto expect = [&](const std::string& rel, bool from_remote, const std::string& remote,
                      std::int64_t remote_sec, long remote_nsec, const std::string& local,
                      std::int64_t local_sec) {
      SCOPED_TRACE(rel);
      auto st = StateOf(dir / rel);
      ASSERT_TRUE(st) << rel << " missing";
      EXPECT_EQ(st->content, from_remote ? remote : local);
      EXPECT_EQ(st->sec, from_remote ? remote_sec : local_sec);
      EXPECT_EQ(st->nsec, from_remote ? remote_nsec : 0);
    };
    expect("older_local.conf", c.older_from_remote, "remote-older\n", kRemoteTime, 5, "local\n",
           1600000000);
    expect("newer_local.conf", c.newer_from_remote, "remote-newer\n", kRemoteTime, 0, "local\n",
           1800000000);
    expect("same_size.conf", c.same_size_from_remote, "AAAA\n", kRemoteTime, 0, "BBBB\n",
           1600000000);
    expect("sub/only_remote.conf", true, "r\n", kRemoteTime, 7, "", 0);
    expect("only_local.conf", false, "", 0, 0, "mine\n", 1650000000);
    expect("sub/only_local.conf", false, "", 0, 0, "mine too\n", 1650000000);
    EXPECT_EQ(TreeOf(dir), (std::set<std::string>{"newer_local.conf", "older_local.conf",
                                                  "only_local.conf", "same_size.conf", "sub/",
                                                  "sub/only_local.conf", "sub/only_remote.conf"}));
    EXPECT_EQ(SummaryNumber(r.err, R"(kept (\d+) local)"), c.kept) << Describe(r);
  }
}

// Counts requests that fetched an object under `prefix` in moto's log since `offset`.
long CountObjectGets(const TestServer& server, std::size_t offset, const std::string& prefix) {
  std::ifstream in(server.log_path(), std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string needle = "\"GET /" + std::string(kBucket) + "/" + prefix + "/";
  long n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

std::size_t LogSize(const TestServer& server) {
  std::error_code ec;
  auto size = fs::file_size(server.log_path(), ec);
  return ec ? 0 : size;
}

TEST_P(RestoreCliTest, IdenticalFilesAreNotDownloadedAgain) {
  constexpr int kFiles = 20;
  fs::path src = scratch() / "src";
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        WriteFileAt(src / ("d" + std::to_string(i % 3)) / ("f" + std::to_string(i) + ".conf"),
                    "content of file " + std::to_string(i) + "\n", 1700000000 + i, 1000 * i));
  }
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));
  bool moto = GetParam() == ServerKind::kMoto;
  fs::path dir = scratch() / "dst";

  std::size_t offset = LogSize(server());
  auto first = Restore(Prefix(), dir);
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  EXPECT_EQ(SummaryNumber(first.err, R"(restored (\d+) files)"), kFiles) << Describe(first);
  if (moto) {
    EXPECT_GE(CountObjectGets(server(), offset, Prefix()), kFiles)
        << "the GET counter sees no downloads:\n"
        << server().LogTail();
  }

  offset = LogSize(server());
  auto second = Restore(Prefix(), dir);
  ASSERT_EQ(second.exit_code, 0) << Describe(second);
  EXPECT_EQ(SummaryNumber(second.err, R"(restored (\d+) files)"), 0) << Describe(second);
  EXPECT_EQ(SummaryNumber(second.err, R"(skipped (\d+) identical)"), kFiles) << Describe(second);
  if (moto) {
    EXPECT_EQ(CountObjectGets(server(), offset, Prefix()), 0) << server().LogTail();
  }

  // Same content under another mtime is still identical (by MD5); a same-size edit with an
  // older mtime is fetched again, alone.
  SetMtime(dir / "d0/f0.conf", 1800000000, 0);
  fs::path edited = dir / "d1/f1.conf";
  std::string text = ReadFile(edited);
  text[0] = 'X';
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(edited, text, 1600000000));
  offset = LogSize(server());
  auto third = Restore(Prefix(), dir);
  ASSERT_EQ(third.exit_code, 0) << Describe(third);
  EXPECT_EQ(SummaryNumber(third.err, R"(restored (\d+) files)"), 1) << Describe(third);
  EXPECT_EQ(SummaryNumber(third.err, R"(skipped (\d+) identical)"), kFiles - 1) << Describe(third);
  if (moto) {
    EXPECT_EQ(CountObjectGets(server(), offset, Prefix()), 1) << server().LogTail();
  }
  EXPECT_EQ(ReadFile(edited), ReadFile(src / "d1/f1.conf"));
}

TEST_P(RestoreCliTest, FolderMarkersBecomeFolders) {
  fs::path src = scratch() / "src";
  ASSERT_NO_FATAL_FAILURE(WriteFile(src / "app.conf", "a=1\n"));
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));
  ASSERT_NO_FATAL_FAILURE(AwsPutAll({{Prefix() + "/emptydir/", ""},
                                     {Prefix() + "/nested/deeper/", ""},
                                     {Prefix() + "/with space+plus/", ""}}));
  fs::path dir = scratch() / "dst";
  auto r = Restore(Prefix(), dir);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(TreeOf(dir), (std::set<std::string>{"app.conf", "emptydir/", "nested/",
                                                "nested/deeper/", "with space+plus/"}))
      << Join(TreeOf(dir));
  EXPECT_EQ(SummaryNumber(r.err, R"((\d+) folders)"), 3) << Describe(r);
  EXPECT_EQ(SummaryNumber(r.err, R"(rejected (\d+) keys)"), 0) << Describe(r);

  auto again = Restore(Prefix(), dir);
  EXPECT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_EQ(TreeOf(dir).size(), 5u) << Join(TreeOf(dir));
}

// Names that URL encoding, form encoding or a careless shell would change.
std::vector<std::string> OddNames() {
  return {
      "with space.conf",
      "plus+sign.conf",
      "percent%41literal.conf",
      "slash%2Fencoded.conf",
      "hash#tag.conf",
      "question?mark.conf",
      "amp&and=equals.conf",
      "unicod\xc3\xa9 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x9a\x80.conf",
      "n\xcc\x83o-nfc.conf",  // "ñ" decomposed: must not be normalised to U+00F1
      "dir with space/a+b=c&d#e?f%g.ini",
      "quotes'\"`$(x);|<>*.conf",
      "back\\slash.conf",
      "tilde~!@[]{}^,.conf",
  };
}

// s3rver 4 escapes these twice in its listings ("a&b" comes back as "a&amp;b" even to awscli),
// so no client can fetch such keys from it: a server bug, not tested there.
bool S3rverMangles(std::string_view name) {
  return name.find_first_of("&'<>`") != std::string_view::npos;
}

TEST_P(RestoreCliTest, OddKeysAreRestoredByteExact) {
  bool s3rver = GetParam() == ServerKind::kS3rver;
  fs::path src = scratch() / "src";
  std::map<std::string, std::string> expected;
  int i = 0;
  for (const auto& name : OddNames()) {
    if (s3rver && S3rverMangles(name)) continue;
    std::string content = "content " + std::to_string(i++) + " of " + name + "\n";
    ASSERT_NO_FATAL_FAILURE(WriteFile(src / name, content));
    expected[name] = content;
  }
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));

  // One more planted by awscli, with binary content.
  std::string aws_name = s3rver ? "from aws/\xc3\xa9+%=?#;.bin" : "from aws/\xc3\xa9+%&=?#;.bin";
  std::string binary("\0\x01\xff\xfe binary\r\n", 13);
  fs::path body = scratch() / "body.bin";
  ASSERT_NO_FATAL_FAILURE(WriteFile(body, binary));
  ASSERT_NO_FATAL_FAILURE(AwsPutAll({{Prefix() + "/" + aws_name, body}}));
  expected[aws_name] = binary;

  // The keys are stored literally (checked with awscli, not with cfgsync).
  std::set<std::string> want_keys;
  for (const auto& [name, content] : expected) want_keys.insert(Prefix() + "/" + name);
  EXPECT_EQ(AwsKeys(Prefix()), want_keys);

  fs::path dir = scratch() / "dst";
  auto r = Restore(Prefix(), dir);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(SummaryNumber(r.err, R"(restored (\d+) files)"), static_cast<long>(expected.size()))
      << Describe(r);
  std::set<std::string> want_tree;
  for (const auto& [name, content] : expected) {
    SCOPED_TRACE(name);
    want_tree.insert(name);
    if (auto slash = name.find('/'); slash != std::string::npos)
      want_tree.insert(name.substr(0, slash + 1));
    ASSERT_TRUE(Exists(dir / name)) << name << " missing; have:\n" << Join(TreeOf(dir));
    EXPECT_EQ(ReadFile(dir / name), content);
  }
  EXPECT_EQ(TreeOf(dir), want_tree) << Join(TreeOf(dir));
}

// A tree with several modes, owners, nested folders and nanosecond mtimes.
void MakeInteropTree(const fs::path& root) {
  struct Entry {
    std::string rel, content;
    mode_t mode;
    std::int64_t sec;
    long nsec;
  };
  std::vector<Entry> entries = {
      {"secret.key", "-----BEGIN KEY-----\nabc\n", 0600, 1709618828, 123456789},
      {"app.yaml", "name: app\n", 0644, 1700000000, 500000000},
      {"bin/run.sh", "#!/bin/sh\necho hi\n", 0755, 1690000000, 1},
      {"conf.d/deep/er/x.ini", "x=1\n", 0644, 1680000000, 999999999},
      {"conf.d/empty.txt", "", 0600, 1670000000, 0},
  };
  for (const auto& e : entries) {
    fs::path p = root / e.rel;
    ASSERT_NO_FATAL_FAILURE(WriteFile(p, e.content));
    ASSERT_EQ(chmod(p.c_str(), e.mode), 0) << p;
    ASSERT_EQ(lchown(p.c_str(), 1000, 1000), 0) << p;
    ASSERT_NO_FATAL_FAILURE(SetMtime(p, e.sec, e.nsec));
  }
}

TEST_P(RestoreCliTest, RcloneCopyWithMetadataRestoresModeMtimeAndOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give files owner 1000:1000";
  fs::path src = scratch() / "src";
  ASSERT_NO_FATAL_FAILURE(MakeInteropTree(src));
  auto up = Rclone("copy -M " + ShellQuote(src.string()) + " s3:" + kBucket + "/" + Prefix());
  ASSERT_EQ(up.exit_code, 0) << Describe(up);

  fs::path dir = scratch() / "fresh";
  auto r = Restore(Prefix(), dir);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto want = StatListing(src);
  EXPECT_NE(want.find("|600|"), std::string::npos) << want;
  EXPECT_NE(want.find("|755|"), std::string::npos) << want;
  EXPECT_NE(want.find(".123456789 "), std::string::npos) << want;
  EXPECT_EQ(StatListing(dir), want);
  auto diff = RunCommand("diff -r -x .cfgsync-marker " + ShellQuote(src.string()) + " " +
                         ShellQuote(dir.string()));
  EXPECT_EQ(diff.exit_code, 0) << Describe(diff);
}

TEST_P(RestoreCliTest, RclonePlainSyncMtimesAreRestored) {
  fs::path src = scratch() / "src";
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "a.conf", "a\n", 1709618828, 123456789));
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "sub/b.conf", "bb\n", 1600000000, 100));
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "sub/c d.conf", "ccc\n", 1500000000, 0));
  auto up = Rclone("sync " + ShellQuote(src.string()) + " s3:" + kBucket + "/" + Prefix());
  ASSERT_EQ(up.exit_code, 0) << Describe(up);

  fs::path dir = scratch() / "fresh";
  auto r = Restore(Prefix(), dir);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  for (const char* rel : {"a.conf", "sub/b.conf", "sub/c d.conf"}) {
    SCOPED_TRACE(rel);
    auto want = StateOf(src / rel);
    auto got = StateOf(dir / rel);
    ASSERT_TRUE(want && got);
    EXPECT_EQ(got->content, want->content);
    EXPECT_EQ(got->sec, want->sec);
    EXPECT_EQ(got->nsec, want->nsec);
  }
  // A second restore finds everything identical.
  auto again = Restore(Prefix(), dir);
  EXPECT_EQ(SummaryNumber(again.err, R"(skipped (\d+) identical)"), 3) << Describe(again);
}

TEST_P(RestoreCliTest, ChownForcesTheOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give files other owners";
  fs::path src = scratch() / "src";
  ASSERT_NO_FATAL_FAILURE(MakeInteropTree(src));
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));

  fs::path plain = scratch() / "plain";
  auto r = Restore(Prefix(), plain);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto st = StateOf(plain / "app.yaml");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->uid, 1000u) << "the stored owner is not applied without --chown";
  EXPECT_EQ(st->gid, 1000u);

  fs::path dir = scratch() / "chowned";
  r = Restore(Prefix(), dir, "--chown 1234:1234");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  struct stat top {};
  ASSERT_EQ(lstat(dir.c_str(), &top), 0);
  EXPECT_EQ(top.st_uid, 1234u) << "--dir, created by this restore, keeps owner " << top.st_uid
                               << ": the app running as 1234 cannot add files to it";
  auto tree = TreeOf(dir);
  EXPECT_EQ(tree.size(), 9u) << Join(tree);
  for (const auto& rel : tree) {
    SCOPED_TRACE(rel);
    struct stat s {};
    ASSERT_EQ(lstat((dir / rel).c_str(), &s), 0);
    EXPECT_EQ(s.st_uid, 1234u);
    EXPECT_EQ(s.st_gid, 1234u);
  }
  // Modes and mtimes are still the stored ones.
  auto key = StateOf(dir / "secret.key");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->mode & 07777, 0600u);
  EXPECT_EQ(key->sec, 1709618828);
  EXPECT_EQ(key->nsec, 123456789);
}

TEST_P(RestoreCliTest, DryRunWritesNothingAndPrintsThePlan) {
  fs::path src = scratch() / "src";
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "a.conf", "aaaa\n", 1700000000));
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "sub/b.conf", "bb\n", 1700000000));
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(src / "c.conf", "remote c\n", 1700000000));
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));

  fs::path absent = scratch() / "absent";
  auto r = Restore(Prefix(), absent, "--dry-run");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_FALSE(Exists(absent)) << "--dry-run created --dir";
  for (const char* rel : {"a.conf", "sub/b.conf", "c.conf"}) {
    EXPECT_TRUE(std::regex_search(r.out, std::regex(std::string("download +") + rel)))
        << rel << " not in the plan:\n"
        << Describe(r);
  }
  EXPECT_NE(r.err.find("would have restored 3 files"), std::string::npos) << Describe(r);
  EXPECT_EQ(SummaryNumber(r.err, R"(would have restored 3 files \((\d+) bytes\))"), 5 + 3 + 9)
      << "the dry-run summary should count the bytes it would fetch\n"
      << Describe(r);

  fs::path dir = scratch() / "existing";
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(dir / "c.conf", "old local c\n", 1600000000, 42));
  ASSERT_NO_FATAL_FAILURE(WriteFileAt(dir / "keep.conf", "keep\n", 1600000000));
  ASSERT_NO_FATAL_FAILURE(WriteFile(dir / (std::string(kTempPrefix) + "stale.conf.x1"), "part"));
  auto before_tree = TreeOf(dir);
  auto before_c = StateOf(dir / "c.conf");
  r = Restore(Prefix(), dir, "--dry-run --on-conflict remote");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(TreeOf(dir), before_tree) << Join(TreeOf(dir));
  auto after_c = StateOf(dir / "c.conf");
  ASSERT_TRUE(after_c);
  EXPECT_EQ(after_c->content, before_c->content);
  EXPECT_EQ(after_c->sec, before_c->sec);
  EXPECT_EQ(after_c->nsec, before_c->nsec);
  EXPECT_TRUE(std::regex_search(r.out, std::regex("download +c\\.conf.*differs"))) << Describe(r);
}

TEST_P(RestoreCliTest, ExcludesAndDefaultExcludesAreNotRestored) {
  fs::path src = scratch() / "src";
  for (const char* rel : {"configuration.yaml", "home-assistant_v2.db", "home-assistant_v2.db-wal",
                          "x.log", "sub/y.log", "sub/keep.ini", "notes.tmp", "database.yaml"}) {
    ASSERT_NO_FATAL_FAILURE(WriteFile(src / rel, std::string("content of ") + rel + "\n"));
  }
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src, "--no-default-excludes"));

  fs::path dir = scratch() / "dst";
  auto r = Restore(Prefix(), dir, "--exclude '*.tmp'");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(TreeOf(dir),
            (std::set<std::string>{"configuration.yaml", "database.yaml", "sub/", "sub/keep.ini"}))
      << Join(TreeOf(dir));

  // They were in the backup: without the default excludes they come back.
  fs::path all = scratch() / "all";
  r = Restore(Prefix(), all, "--no-default-excludes");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(TreeOf(all).size(), 9u) << Join(TreeOf(all));
  EXPECT_TRUE(Exists(all / "home-assistant_v2.db"));
}

INSTANTIATE_TEST_SUITE_P(Servers, RestoreCliTest,
                         ::testing::Values(ServerKind::kMoto, ServerKind::kS3rver),
                         [](const ::testing::TestParamInfo<ServerKind>& info) {
                           return std::string(testing::ServerKindName(info.param));
                         });

// Tests that need moto: keys s3rver normalises, and a slow server to interrupt.
class RestoreMotoTest : public RestoreFixture {
 public:
  static void TearDownTestSuite() { StopServers(); }

 protected:
  void SetUp() override {
    RestoreFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(UseServer(ServerKind::kMoto));
  }
};

TEST_F(RestoreMotoTest, HostileKeysNeverLeaveTheTargetFolder) {
  fs::path src = scratch() / "src";
  ASSERT_NO_FATAL_FAILURE(WriteFile(src / "ok.txt", "ok\n"));
  ASSERT_NO_FATAL_FAILURE(WriteFile(src / "sub/f.conf", "f\n"));
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));
  fs::path body = scratch() / "evil-body";
  ASSERT_NO_FATAL_FAILURE(WriteFile(body, "evil\n"));
  std::vector<std::string> hostile = {
      Prefix() + "/../x", Prefix() + "/a/../../x", Prefix() + "//etc/x",   Prefix() + "/a//b",
      Prefix() + "/./x",  Prefix() + "/ctl\rx",    Prefix() + "/ctl\x01x",
  };
  std::vector<std::pair<std::string, fs::path>> puts;
  for (const auto& k : hostile) puts.emplace_back(k, body);
  ASSERT_NO_FATAL_FAILURE(AwsPutAll(puts));
  auto stored = AwsKeys(Prefix());
  for (const auto& k : hostile) ASSERT_TRUE(stored.contains(k)) << "moto changed key " << k;

  bool etc_x_before = Exists("/etc/x");
  fs::path parent = scratch() / "parent";
  fs::path dir = parent / "target";
  fs::path cwd = scratch() / "cwd";
  fs::create_directories(dir);
  fs::create_directories(cwd);
  auto r =
      RunCommand("cd " + ShellQuote(cwd.string()) + " && " + EnvFor(&server(), At(Prefix())) + " " +
                 ShellQuote(CFGSYNC_BINARY) + " restore --dir " + ShellQuote(dir.string()));
  EXPECT_EQ(r.exit_code, 0) << "rejected keys are reported, not failures\n" << Describe(r);
  EXPECT_EQ(SummaryNumber(r.err, R"(rejected (\d+) keys)"), static_cast<long>(hostile.size()))
      << Describe(r);
  EXPECT_EQ(SummaryNumber(r.err, R"(restored (\d+) files)"), 2) << Describe(r);

  EXPECT_EQ(TreeOf(dir), (std::set<std::string>{"ok.txt", "sub/", "sub/f.conf"}))
      << Join(TreeOf(dir));
  EXPECT_EQ(TreeOf(parent),
            (std::set<std::string>{"target/", "target/ok.txt", "target/sub/", "target/sub/f.conf"}))
      << Join(TreeOf(parent));
  EXPECT_EQ(TreeOf(cwd), std::set<std::string>{}) << Join(TreeOf(cwd));
  for (const auto& rel : TreeOf(scratch())) {
    EXPECT_NE(fs::path(rel).filename(), "x") << "found " << rel;
  }
  if (!etc_x_before) {
    EXPECT_FALSE(Exists("/etc/x")) << "a hostile key wrote /etc/x";
  }

  // The dry run's plan shows the rejections without raw control bytes.
  auto dry =
      RunCfgsync(&server(), At(Prefix()), "restore --dry-run --dir " + ShellQuote(dir.string()));
  EXPECT_EQ(dry.exit_code, 0) << Describe(dry);
  EXPECT_EQ(dry.out.find('\r'), std::string::npos) << "raw CR in the plan:\n" << Describe(dry);
  EXPECT_EQ(dry.out.find('\x01'), std::string::npos) << "raw 0x01 in the plan:\n" << Describe(dry);
  EXPECT_EQ(dry.err.find('\r'), std::string::npos) << "raw CR in the log:\n" << Describe(dry);
}

// Distinct 256 KiB contents: a shared random block with the file's index stamped at the start.
std::string FileContent(std::uint32_t index) {
  constexpr std::size_t kSize = 256 * 1024;
  static const std::string block = [] {
    std::mt19937_64 gen(42);
    std::string out(kSize, '\0');
    for (std::size_t i = 0; i + 8 <= kSize; i += 8) {
      std::uint64_t v = gen();
      std::memcpy(out.data() + i, &v, 8);
    }
    return out;
  }();
  std::string out = block;
  std::memcpy(out.data(), &index, sizeof(index));
  return out;
}

TEST_F(RestoreMotoTest, KillNineMidRestoreThenRerunCompletes) {
  constexpr int kFiles = 300;
  fs::path src = scratch() / "src";
  for (int i = 0; i < kFiles; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "d%d/f%03d.bin", i % 4, i);
    ASSERT_NO_FATAL_FAILURE(WriteFile(src / name, FileContent(i)));
  }
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));

  fs::path dir = scratch() / "dst";
  fs::path log = scratch() / "killed.log";
  std::string script = "set -u\n" + EnvFor(&server(), At(Prefix())) + " " +
                       ShellQuote(CFGSYNC_BINARY) + " restore --transfers 2 --dir " +
                       ShellQuote(dir.string()) + " >/dev/null 2>" + ShellQuote(log.string()) +
                       " &\n"
                       "pid=$!\n"
                       "i=0\n"
                       "while [ $i -lt 3000 ]; do\n"
                       "  if [ -n \"$(find " +
                       ShellQuote(dir.string()) +
                       " -type f -name 'f*.bin' 2>/dev/null | head -n 1)\" ]; then break; fi\n"
                       "  sleep 0.005; i=$((i+1))\n"
                       "done\n"
                       "kill -9 $pid\n"
                       "wait $pid\n"
                       "echo \"exit=$?\"\n";
  auto killed = RunCommand(script);
  ASSERT_EQ(killed.out, "exit=137\n") << "the restore was not killed by SIGKILL\n"
                                      << Describe(killed) << ReadFile(log);

  // Mid-flight: some files are in place, not all, and every one in place is complete.
  int complete = 0, temps = 0;
  for (const auto& rel : TreeOf(dir)) {
    std::string name = fs::path(rel).filename().string();
    if (name.starts_with(kTempPrefix)) {
      ++temps;
    } else if (!rel.ends_with('/')) {
      ++complete;
      EXPECT_TRUE(ReadFile(dir / rel) == ReadFile(src / rel)) << rel << " is partial";
    }
  }
  ASSERT_GT(complete, 0);
  ASSERT_LT(complete, kFiles) << "the restore finished before the kill: make it larger";

  auto rerun = Restore(Prefix(), dir);
  ASSERT_EQ(rerun.exit_code, 0) << Describe(rerun);
  EXPECT_EQ(Md5Listing(dir), Md5Listing(src));
  for (const auto& rel : TreeOf(dir)) {
    EXPECT_FALSE(fs::path(rel).filename().string().starts_with(kTempPrefix)) << "leftover " << rel;
  }
  EXPECT_EQ(TreeOf(dir), TreeOf(src));
  if (temps > 0) {
    EXPECT_NE(rerun.err.find("stale temporary"), std::string::npos)
        << temps << " temporary files were left by the kill\n"
        << Describe(rerun);
  }
  EXPECT_EQ(SummaryNumber(rerun.err, R"(restored (\d+) files)").value_or(-1) +
                SummaryNumber(rerun.err, R"(skipped (\d+) identical)").value_or(-1),
            kFiles)
      << Describe(rerun);
}

// Tests that need s3rver: signature checks, and keys moto refuses.
class RestoreS3rverTest : public RestoreFixture {
 public:
  static void TearDownTestSuite() { StopServers(); }

 protected:
  void SetUp() override {
    RestoreFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(UseServer(ServerKind::kS3rver));
  }
};

TEST_F(RestoreS3rverTest, WrongCredentialsFailFastWithoutLeakingTheSecret) {
  fs::path src = scratch() / "src";
  ASSERT_NO_FATAL_FAILURE(WriteFile(src / "app.conf", "a=1\n"));
  ASSERT_NO_FATAL_FAILURE(Push(Prefix(), src));

  const std::string secret = "Wr0ngSecretValue-cfgsync-7f3a9c";
  struct Case {
    std::string what;
    Target target;
    std::string args;
  };
  std::vector<Case> cases = {
      {"wrong secret", WithCredentials(TargetAt(kBucket, Prefix()), "", secret), ""},
      {"wrong secret, trace log", WithCredentials(TargetAt(kBucket, Prefix()), "", secret),
       "--log-level trace"},
      {"wrong access key", WithCredentials(TargetAt(kBucket, Prefix()), "NOT-S3RVER", secret), ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    fs::path parent = scratch() / ("parent-" + std::to_string(&c - cases.data()));
    fs::create_directories(parent);
    fs::path dir = parent / "config";
    auto start = std::chrono::steady_clock::now();
    auto r =
        RunCfgsync(&server(), c.target, "restore --dir " + ShellQuote(dir.string()) + " " + c.args);
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(r.exit_code, 1) << Describe(r);
    EXPECT_LT(seconds, 5.0) << "rejected credentials must not be retried";
    auto errors = ErrorLines(r.err);
    ASSERT_EQ(errors.size(), 1u) << Describe(r);
    std::string line = Lower(errors[0]);
    EXPECT_TRUE(line.find("signaturedoesnotmatch") != std::string::npos ||
                line.find("invalidaccesskeyid") != std::string::npos ||
                line.find("credential") != std::string::npos)
        << errors[0];
    EXPECT_EQ(r.out.find(secret), std::string::npos) << "secret on stdout";
    EXPECT_EQ(r.err.find(secret), std::string::npos) << "secret on stderr";
    EXPECT_EQ(TreeOf(parent), std::set<std::string>{}) << Join(TreeOf(parent));
  }
}

TEST_F(RestoreS3rverTest, KeyWithNewlineIsRejectedAndNotEchoedRaw) {
  fs::path body = scratch() / "body";
  ASSERT_NO_FATAL_FAILURE(WriteFile(body, "x\n"));
  std::string evil = Prefix() + "/evil\nrestored 99 files";
  ASSERT_NO_FATAL_FAILURE(AwsPutAll({{Prefix() + "/ok.txt", body}, {evil, body}}));
  ASSERT_TRUE(AwsKeys(Prefix()).contains(evil)) << "s3rver did not keep the newline key";

  fs::path dir = scratch() / "dst";
  auto r = Restore(Prefix(), dir);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(TreeOf(dir), std::set<std::string>{"ok.txt"}) << Join(TreeOf(dir));
  EXPECT_EQ(SummaryNumber(r.err, R"(rejected (\d+) keys)"), 1) << Describe(r);
  EXPECT_EQ(r.err.find("evil\n"), std::string::npos) << "raw newline in the log\n" << Describe(r);

  auto dry = Restore(Prefix(), dir, "--dry-run");
  EXPECT_EQ(dry.exit_code, 0) << Describe(dry);
  for (const auto& line : Lines(dry.out)) {
    EXPECT_TRUE(std::regex_search(line, std::regex("^(download|mkdir|skip-identical|keep-local|"
                                                   "reject|need-stat) ")))
        << "a plan line that is not a step (the key's newline printed raw?): [" << line << "]";
  }
}

// No server: nothing listens at the endpoint.
TEST(RestoreNoServerTest, UnreachableEndpointFailsWithOneClearLine) {
  TempDir scratch("cfgsync-restore");
  int port = ClosedPort();
  Target t = WithCredentials(TargetAt(kBucket, "app"), "test", "test");
  t.endpoint = "http://127.0.0.1:" + std::to_string(port);
  fs::path dir = scratch.path() / "config";
  auto start = std::chrono::steady_clock::now();
  auto r = RunCfgsync(nullptr, t, "restore --retries 2 --dir " + ShellQuote(dir.string()));
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_LT(seconds, 30.0);
  auto errors = ErrorLines(r.err);
  ASSERT_EQ(errors.size(), 1u) << Describe(r);
  EXPECT_NE(Lower(errors[0]).find("connect"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find(std::to_string(port)), std::string::npos)
      << "the line should name the endpoint\n"
      << errors[0];
  EXPECT_EQ(r.err.find("nothing to restore"), std::string::npos) << Describe(r);
  EXPECT_FALSE(Exists(dir));
}

TEST(RestoreNoServerTest, BadFlagsAreUsageErrors) {
  TempDir scratch("cfgsync-restore");
  Target t = WithCredentials(TargetAt(kBucket, "app"), "test", "test");
  t.endpoint = "http://127.0.0.1:1";
  std::string dir = ShellQuote((scratch.path() / "config").string());
  for (const std::string args : {"--on-conflict bogus", "--chown nobody",
                                 "--chown 12:", "--exclude '[z-a'", "--no-such-flag"}) {
    SCOPED_TRACE(args);
    auto r = RunCfgsync(nullptr, t, "restore --dir " + dir + " " + args);
    EXPECT_EQ(r.exit_code, 2) << Describe(r);
    EXPECT_EQ(ErrorLines(r.err).size(), 1u) << Describe(r);
  }
  auto no_bucket = RunCommand("env -u SYNC_BUCKET -u CFGSYNC_REMOTE " + ShellQuote(CFGSYNC_BINARY) +
                              " restore --dir " + dir);
  EXPECT_EQ(no_bucket.exit_code, 2) << Describe(no_bucket);
  EXPECT_NE(no_bucket.err.find("SYNC_BUCKET"), std::string::npos) << Describe(no_bucket);
}

}  // namespace
}  // namespace cfgsync

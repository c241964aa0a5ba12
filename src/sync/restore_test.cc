#include "sync/restore.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <stop_token>
#include <string>
#include <vector>

#include "core/fs.h"
#include "support/fault_remote.h"
#include "support/files.h"
#include "support/mem_remote.h"
#include "support/remote_files.h"
#include "support/result_text.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::WriteFile;

struct stat LStat(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

void SetMtime(const fs::path& path, FileTime t) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {t.sec, static_cast<long>(t.nsec)}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

FileMeta Meta(FileTime mtime, std::uint32_t mode, std::optional<std::uint32_t> uid = std::nullopt,
              std::optional<std::uint32_t> gid = std::nullopt) {
  FileMeta m;
  m.mtime = mtime;
  m.mode = mode;
  m.uid = uid;
  m.gid = gid;
  return m;
}

std::vector<std::string> TempFilesUnder(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (IsTempName(it->path().filename().string())) out.push_back(it->path().string());
  }
  return out;
}

using testing::Text;

const FileTime kStored{1709618828, 123456789};

// Forwards to a MemRemote, but a Get of `fail_key` writes part of the content to `dest` first and
// then reports a transient failure, like a connection cut mid-transfer.
class PartialGetRemote final : public Remote {
 public:
  PartialGetRemote(MemRemote& target, std::string fail_key)
      : target_(target), fail_key_(std::move(fail_key)) {}
  std::string Describe() const override { return target_.Describe(); }
  Capabilities Caps() const override { return target_.Caps(); }
  Status CheckRoot(const CallOptions& opts = {}) override { return target_.CheckRoot(opts); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix,
                                       const CallOptions& opts = {}) override {
    return target_.List(prefix, opts);
  }
  Result<ObjectInfo> Stat(std::string_view key, const CallOptions& opts = {}) override {
    return target_.Stat(key, opts);
  }
  Result<ObjectInfo> Get(std::string_view key, ByteSink& sink,
                         const CallOptions& opts = {}) override {
    if (key != fail_key_) return target_.Get(key, sink, opts);
    std::string_view partial = "partial";
    (void)sink.Write(std::span<const char>(partial.data(), partial.size()));
    return Fail(ErrorKind::kTransient, "connection reset mid-transfer");
  }
  Result<ObjectInfo> Put(std::string_view key, const ByteSource& src, const FileMeta& m,
                         const CallOptions& opts = {}) override {
    return target_.Put(key, src, m, opts);
  }
  Status Remove(std::span<const std::string> keys, const CallOptions& opts = {}) override {
    return target_.Remove(keys, opts);
  }

 private:
  MemRemote& target_;
  std::string fail_key_;
};

// Every restore test runs with both ways of making files durable: a group's syncfs, and an
// fsync per file (where syncfs would not cover them).
class RunRestoreTest : public ::testing::TestWithParam<FlushMode> {
 protected:
  RestoreOptions Opts() const {
    RestoreOptions o;
    o.dir = dir_;
    o.transfers = 4;
    o.flush = GetParam();
    o.bucket_label = "bucket \"backups\" (from SYNC_BUCKET)";
    return o;
  }

  Result<RestoreStats> Run(const RestoreOptions& opts) {
    return RunRestore(mem_, filter_, opts, RealClock::Get());
  }
  Result<RestoreStats> Run() { return Run(Opts()); }

  testing::TempDir tmp_{"cfgsync-restore"};
  fs::path dir_ = tmp_.path() / "config";
  MemRemote mem_;
  Filter filter_ = *Filter::Build(FilterOptions{});
};

TEST_P(RunRestoreTest, RestoresContentModeAndNanosecondMtime) {
  mem_.Seed("app.ini", "key=value\n", Meta(kStored, 0100640));
  mem_.Seed("sub/deep/b.yaml", "b: 1\n", Meta(FileTime{1600000000, 1}, 0100600));
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_FALSE(stats->first_deployment);
  EXPECT_EQ(stats->restored, 2);
  EXPECT_EQ(stats->failed, 0);
  EXPECT_EQ(stats->rejected, 0);
  EXPECT_EQ(stats->bytes, 15u);

  EXPECT_EQ(ReadFile(dir_ / "app.ini"), "key=value\n");
  struct stat a = LStat(dir_ / "app.ini");
  EXPECT_TRUE(S_ISREG(a.st_mode));
  EXPECT_EQ(a.st_mode & 07777, 0640u);
  EXPECT_EQ(a.st_mtim.tv_sec, kStored.sec);
  EXPECT_EQ(a.st_mtim.tv_nsec, kStored.nsec);

  EXPECT_EQ(ReadFile(dir_ / "sub" / "deep" / "b.yaml"), "b: 1\n");
  struct stat b = LStat(dir_ / "sub" / "deep" / "b.yaml");
  EXPECT_EQ(b.st_mode & 07777, 0600u);
  EXPECT_EQ(b.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(b.st_mtim.tv_nsec, 1);
  EXPECT_TRUE(TempFilesUnder(dir_).empty());
}

TEST_P(RunRestoreTest, ReadOnlyAndExecutableModesRestored) {
  mem_.Seed("ro.ini", "r", Meta(kStored, 0100400));
  mem_.Seed("run.sh", "#!/bin/sh\n", Meta(kStored, 0100755));
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(LStat(dir_ / "ro.ini").st_mode & 07777, 0400u);
  EXPECT_EQ(LStat(dir_ / "run.sh").st_mode & 07777, 0755u);
  EXPECT_EQ(ReadFile(dir_ / "ro.ini"), "r");
}

TEST_P(RunRestoreTest, WithoutStoredAttributesUsesUmaskModeAndUploadTime) {
  mem_.Seed("plain.ini", "p");  // no mtime, no mode (e.g. uploaded by another tool)
  auto before = std::chrono::system_clock::now();
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  mode_t mask = ::umask(0);
  ::umask(mask);
  struct stat st = LStat(dir_ / "plain.ini");
  EXPECT_EQ(st.st_mode & 07777, 0666u & ~mask);
  auto mtime = std::chrono::system_clock::time_point{} + std::chrono::seconds(st.st_mtim.tv_sec);
  EXPECT_LT(std::chrono::abs(mtime - before), std::chrono::minutes(5));
}

TEST_P(RunRestoreTest, StoredOwnerAppliedOnlyWithChownCapability) {
  mem_.Seed("owned.ini", "o", Meta(kStored, 0100640, 1234, 5678));
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 1);
  struct stat st = LStat(dir_ / "owned.ini");
  if (CanChown()) {
    EXPECT_EQ(st.st_uid, 1234u);
    EXPECT_EQ(st.st_gid, 5678u);
  } else {
    EXPECT_EQ(st.st_uid, ::geteuid());
  }
}

TEST_P(RunRestoreTest, ChownFlagForcesOwnerOfFilesAndNewFolders) {
  if (!CanChown()) GTEST_SKIP() << "needs CAP_CHOWN";
  mem_.Seed("a.ini", "a", Meta(kStored, 0100640, 1234, 5678));
  mem_.Seed("newdir/b.ini", "b", Meta(kStored, 0100640));
  RestoreOptions opts = Opts();
  opts.chown = Owner{4321, 8765};
  auto stats = Run(opts);
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 2);
  for (const fs::path& p : {dir_ / "a.ini", dir_ / "newdir" / "b.ini", dir_ / "newdir"}) {
    struct stat st = LStat(p);
    EXPECT_EQ(st.st_uid, 4321u) << p;
    EXPECT_EQ(st.st_gid, 8765u) << p;
  }
}

TEST_P(RunRestoreTest, NewFoldersBelongToTheOwnerOfDir) {
  if (!CanChown()) GTEST_SKIP() << "needs CAP_CHOWN";
  fs::create_directories(dir_);
  ASSERT_EQ(::chown(dir_.c_str(), 2345, 3456), 0);
  mem_.Seed("made/by/restore.ini", "x", Meta(kStored, 0100640, 1000, 1000));
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  for (const fs::path& p : {dir_ / "made", dir_ / "made" / "by"}) {
    struct stat st = LStat(p);
    EXPECT_EQ(st.st_uid, 2345u) << p;
    EXPECT_EQ(st.st_gid, 3456u) << p;
  }
  EXPECT_EQ(LStat(dir_ / "made" / "by" / "restore.ini").st_uid, 1000u);  // the stored owner
}

// Whoever can write the bucket chooses the stored mode: a restore never creates a setuid,
// setgid or sticky file, nor anything but a regular file.
TEST_P(RunRestoreTest, PrivilegedModeBitsAndSpecialTypesAreNeverRestored) {
  mem_.Seed("tool", "#!/bin/sh\n", Meta(kStored, 0107777, 1234, 1234));
  mem_.Seed("dev", "x", Meta(kStored, 020666));   // a character device
  mem_.Seed("fifo", "y", Meta(kStored, 010644));  // a fifo
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 3);
  struct stat st = LStat(dir_ / "tool");
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  EXPECT_EQ(st.st_mtim.tv_nsec, kStored.nsec);
  if (CanChown()) {
    EXPECT_EQ(st.st_uid, 1234u);
  }
  for (const char* name : {"dev", "fifo"}) {
    struct stat sp = LStat(dir_ / name);
    EXPECT_TRUE(S_ISREG(sp.st_mode)) << name;
  }
  EXPECT_EQ(LStat(dir_ / "dev").st_mode & 07777, 0666u);
  EXPECT_EQ(ReadFile(dir_ / "fifo"), "y");
}

// A stored owner of root counts as no owner: the file gets --dir's owner, as new folders do.
TEST_P(RunRestoreTest, RootOwnerIsAppliedOnlyWhenAllowed) {
  if (!CanChown()) GTEST_SKIP() << "needs CAP_CHOWN";
  fs::create_directories(dir_);
  ASSERT_EQ(::chown(dir_.c_str(), 2345, 3456), 0);
  mem_.Seed("root.ini", "r", Meta(kStored, 0100644, 0, 0));
  mem_.Seed("group.ini", "g", Meta(kStored, 0100644, 1000, 0));
  mem_.Seed("none.ini", "n", Meta(kStored, 0100644));
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(LStat(dir_ / "root.ini").st_uid, 2345u);
  EXPECT_EQ(LStat(dir_ / "root.ini").st_gid, 3456u);
  EXPECT_EQ(LStat(dir_ / "group.ini").st_uid, 1000u);
  EXPECT_EQ(LStat(dir_ / "group.ini").st_gid, 3456u);
  EXPECT_EQ(LStat(dir_ / "none.ini").st_uid, 2345u);

  fs::path again = dir_.parent_path() / "allowed";
  RestoreOptions opts = Opts();
  opts.dir = again;
  opts.allow_root_owner = true;
  stats = Run(opts);
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(LStat(again / "root.ini").st_uid, 0u);
  EXPECT_EQ(LStat(again / "root.ini").st_gid, 0u);
  fs::remove_all(again);
}

TEST_P(RunRestoreTest, DryRunWritesNothing) {
  mem_.Seed("a.ini", "a", Meta(kStored, 0100640));
  mem_.Seed("sub/b.ini", "b", Meta(kStored, 0100640));
  mem_.Seed("folder/", "");
  RestoreOptions opts = Opts();
  opts.dry_run = true;
  auto stats = Run(opts);
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 2);  // what would be restored
  EXPECT_EQ(stats->folders, 1);
  EXPECT_FALSE(fs::exists(dir_));
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 0);
}

TEST_P(RunRestoreTest, DryRunLeavesExistingFilesAndTempsAlone) {
  WriteFile(dir_ / "a.ini", "local");
  SetMtime(dir_ / "a.ini", FileTime{1000000000, 0});  // older: a real run would download
  WriteFile(dir_ / ".cfgsync-tmp-a.ini.1234", "stale");
  mem_.Seed("a.ini", "remote content", Meta(kStored, 0100640));
  RestoreOptions opts = Opts();
  opts.dry_run = true;
  auto stats = Run(opts);
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 1);
  EXPECT_EQ(ReadFile(dir_ / "a.ini"), "local");
  EXPECT_TRUE(fs::exists(dir_ / ".cfgsync-tmp-a.ini.1234"));
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 0);
}

TEST_P(RunRestoreTest, EmptyBackupIsFirstDeployment) {
  WriteFile(dir_ / "local.ini", "mine");
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_TRUE(stats->first_deployment);
  EXPECT_EQ(stats->restored, 0);
  EXPECT_EQ(ReadFile(dir_ / "local.ini"), "mine");
}

TEST_P(RunRestoreTest, MissingBucketIsAnErrorNamingTheBucket) {
  mem_.SetBucketMissing(true);
  auto stats = Run();
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kNoSuchBucket);
  EXPECT_NE(stats.error().message.find("bucket \"backups\" (from SYNC_BUCKET)"), std::string::npos)
      << stats.error().message;
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_P(RunRestoreTest, MissingBucketAllowedIsFirstDeployment) {
  mem_.SetBucketMissing(true);
  RestoreOptions opts = Opts();
  opts.allow_missing_bucket = true;
  auto stats = Run(opts);
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_TRUE(stats->first_deployment);
  EXPECT_EQ(stats->restored, 0);
}

TEST_P(RunRestoreTest, StaleTempFilesRemoved) {
  WriteFile(dir_ / ".cfgsync-tmp-app.ini.00112233", "half");
  WriteFile(dir_ / "sub" / ".cfgsync-tmp-b.ini.44556677", "half");
  WriteFile(dir_ / "sub" / "keep.ini", "keep");
  mem_.Seed("app.ini", "full", Meta(kStored, 0100640));
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->stale_temps_removed, 2);
  EXPECT_TRUE(TempFilesUnder(dir_).empty());
  EXPECT_EQ(ReadFile(dir_ / "sub" / "keep.ini"), "keep");
  EXPECT_EQ(ReadFile(dir_ / "app.ini"), "full");
}

TEST_P(RunRestoreTest, SymlinkedFolderPointingOutsideIsNeverWrittenThrough) {
  fs::path outside = tmp_.path() / "outside";
  fs::create_directories(outside);
  fs::create_directories(dir_);
  fs::create_symlink(outside, dir_ / "link");
  mem_.Seed("link/x.ini", "evil", Meta(kStored, 0100644));
  mem_.Seed("link/deeper/y.ini", "evil", Meta(kStored, 0100644));
  mem_.Seed("fine.ini", "ok", Meta(kStored, 0100644));
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->rejected, 2);
  EXPECT_EQ(stats->restored, 1);
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_TRUE(fs::is_symlink(dir_ / "link"));
  EXPECT_EQ(ReadFile(dir_ / "fine.ini"), "ok");
}

TEST_P(RunRestoreTest, ExistingSymlinkAtTargetIsRejected) {
  fs::path outside = tmp_.path() / "outside";
  WriteFile(outside / "victim.ini", "original");
  fs::create_directories(dir_);
  fs::create_symlink(outside / "victim.ini", dir_ / "target.ini");
  mem_.Seed("target.ini", "overwritten!", Meta(kStored, 0100644));
  RestoreOptions opts = Opts();
  opts.policy = ConflictPolicy::kRemote;
  auto stats = Run(opts);
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->rejected, 1);
  EXPECT_EQ(stats->restored, 0);
  EXPECT_EQ(ReadFile(outside / "victim.ini"), "original");
  EXPECT_TRUE(fs::is_symlink(dir_ / "target.ini"));
  EXPECT_TRUE(TempFilesUnder(dir_).empty());
}

TEST_P(RunRestoreTest, HostileKeysRejectedAndNothingWrittenOutside) {
  mem_.Seed("../escape.ini", "evil");
  mem_.Seed("a/../../escape2.ini", "evil");
  mem_.Seed("/etc-escape.ini", "evil");
  mem_.Seed("new\nline.ini", "evil");
  mem_.Seed("ok.ini", "ok");
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->rejected, 4);
  EXPECT_EQ(stats->restored, 1);
  EXPECT_FALSE(fs::exists(tmp_.path() / "escape.ini"));
  EXPECT_FALSE(fs::exists(tmp_.path() / "escape2.ini"));
  EXPECT_FALSE(fs::exists("/etc-escape.ini"));
  EXPECT_FALSE(fs::exists(dir_ / "new\nline.ini"));
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 1);
}

TEST_P(RunRestoreTest, FolderMarkersCreateFolders) {
  mem_.Seed("empty/", "");
  mem_.Seed("a/b/", "");
  mem_.Seed("bad/", "content");
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->folders, 2);
  EXPECT_EQ(stats->rejected, 1);
  EXPECT_TRUE(fs::is_directory(dir_ / "empty"));
  EXPECT_TRUE(fs::is_directory(dir_ / "a" / "b"));
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
}

TEST_P(RunRestoreTest, ExcludedKeysNotRestored) {
  mem_.Seed("x.log", "log");
  mem_.Seed("home.db-wal", "wal");
  mem_.Seed("conf.yaml", "c");
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 1);
  EXPECT_FALSE(fs::exists(dir_ / "x.log"));
  EXPECT_FALSE(fs::exists(dir_ / "home.db-wal"));
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 1);
}

TEST_P(RunRestoreTest, TransientFailureOfOneGetCountsAndOthersRestored) {
  mem_.Seed("a.ini", "a", Meta(kStored, 0100640));
  mem_.Seed("b.ini", "b", Meta(kStored, 0100640));
  mem_.Seed("c.ini", "c", Meta(kStored, 0100640));
  FaultRemote fault(mem_);
  fault.SetHook([](RemoteOp op, std::string_view key) -> std::optional<Error> {
    if (op == RemoteOp::kGet && key == "b.ini") return Error{ErrorKind::kTransient, "503", 503};
    return std::nullopt;
  });
  auto stats = RunRestore(fault, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->failed, 1);
  EXPECT_EQ(stats->restored, 2);
  EXPECT_EQ(ReadFile(dir_ / "a.ini"), "a");
  EXPECT_EQ(ReadFile(dir_ / "c.ini"), "c");
  EXPECT_FALSE(fs::exists(dir_ / "b.ini"));
  EXPECT_TRUE(TempFilesUnder(dir_).empty());
}

TEST_P(RunRestoreTest, FailureMidTransferLeavesNoTempFileAndNoPartialFile) {
  mem_.Seed("a.ini", "a", Meta(kStored, 0100640));
  mem_.Seed("sub/b.ini", "bbbbbbbbbbbbbbbbbbbbbbbbb", Meta(kStored, 0100640));
  PartialGetRemote partial(mem_, "sub/b.ini");
  auto stats = RunRestore(partial, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->failed, 1);
  EXPECT_EQ(stats->restored, 1);
  EXPECT_FALSE(fs::exists(dir_ / "sub" / "b.ini"));
  EXPECT_EQ(TempFilesUnder(dir_), std::vector<std::string>{});
}

TEST_P(RunRestoreTest, FailedGetKeepsTheExistingLocalFile) {
  WriteFile(dir_ / "a.ini", "old local");
  SetMtime(dir_ / "a.ini", FileTime{1000000000, 0});
  mem_.Seed("a.ini", "new backup", Meta(kStored, 0100640));
  PartialGetRemote partial(mem_, "a.ini");
  auto stats = RunRestore(partial, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->failed, 1);
  EXPECT_EQ(ReadFile(dir_ / "a.ini"), "old local");
}

TEST_P(RunRestoreTest, AuthFailureOnGetAbortsTheRun) {
  for (int i = 0; i < 6; ++i) mem_.Seed("f" + std::to_string(i) + ".ini", "x");
  FaultRemote fault(mem_);
  fault.SetHook([](RemoteOp op, std::string_view) -> std::optional<Error> {
    if (op == RemoteOp::kGet) return Error{ErrorKind::kAuth, "AccessDenied", 403};
    return std::nullopt;
  });
  auto stats = RunRestore(fault, filter_, Opts(), RealClock::Get());
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kAuth);
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 0);
}

TEST_P(RunRestoreTest, ListFailureIsReturned) {
  mem_.Seed("a.ini", "a");
  FaultRemote fault(mem_);
  fault.SetHook([](RemoteOp op, std::string_view) -> std::optional<Error> {
    if (op == RemoteOp::kList) return Error{ErrorKind::kNetwork, "connection refused"};
    return std::nullopt;
  });
  auto stats = RunRestore(fault, filter_, Opts(), RealClock::Get());
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kNetwork);
}

TEST_P(RunRestoreTest, ListingInPagesRestoresEverythingAcrossPages) {
  for (int i = 0; i < 25; ++i)
    mem_.Seed(fmt::format("d{}/f{:02}.ini", i % 3, i), "v" + std::to_string(i));
  mem_.SetPageSize(4);
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 25);
  EXPECT_EQ(mem_.Calls(RemoteOp::kList), 7);  // 25 objects by 4
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(ReadFile(dir_ / fmt::format("d{}/f{:02}.ini", i % 3, i)), "v" + std::to_string(i));
  }
  EXPECT_TRUE(TempFilesUnder(dir_).empty());
}

TEST_P(RunRestoreTest, RootMarkerPagesAloneAreAFirstDeployment) {
  mem_.Seed("", "");
  mem_.SetPageSize(1);
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_TRUE(stats->first_deployment);
  EXPECT_TRUE(fs::is_directory(dir_));  // created, so that the sidecar has a folder to watch
}

TEST_P(RunRestoreTest, ListFailureOnALaterPageIsReturnedAfterCompleteFiles) {
  for (int i = 0; i < 6; ++i) mem_.Seed(fmt::format("f{}.ini", i), "content");
  mem_.SetPageSize(2);
  FaultRemote fault(mem_);
  std::atomic<int> lists{0};
  fault.SetHook([&](RemoteOp op, std::string_view) -> std::optional<Error> {
    if (op == RemoteOp::kList && ++lists == 3) return Error{ErrorKind::kNetwork, "reset"};
    return std::nullopt;
  });
  auto stats = RunRestore(fault, filter_, Opts(), RealClock::Get());
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kNetwork);
  EXPECT_TRUE(TempFilesUnder(dir_).empty());
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(ReadFile(e.path()), "content");
}

TEST_P(RunRestoreTest, MissingBucketAfterPagingStillNamesTheBucket) {
  mem_.SetBucketMissing(true);
  mem_.SetPageSize(2);
  auto stats = Run();
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kNoSuchBucket);
  EXPECT_NE(stats.error().message.find("SYNC_BUCKET"), std::string::npos);
}

TEST_P(RunRestoreTest, LocalFilesAbsentFromBackupAreKept) {
  WriteFile(dir_ / "mine.ini", "mine");
  WriteFile(dir_ / "sub" / "mine2.ini", "mine2");
  mem_.Seed("a.ini", "a");
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(ReadFile(dir_ / "mine.ini"), "mine");
  EXPECT_EQ(ReadFile(dir_ / "sub" / "mine2.ini"), "mine2");
  EXPECT_EQ(ReadFile(dir_ / "a.ini"), "a");
}

TEST_P(RunRestoreTest, IdenticalFilesAreNotDownloadedAgain) {
  mem_.Seed("a.ini", "aaa", Meta(kStored, 0100640));
  mem_.Seed("sub/b.ini", "bbb", Meta(kStored, 0100600));
  auto first = Run();
  ASSERT_TRUE(first) << Text(first);
  EXPECT_EQ(first->restored, 2);
  int gets = mem_.Calls(RemoteOp::kGet);
  EXPECT_EQ(gets, 2);
  auto second = Run();
  ASSERT_TRUE(second) << Text(second);
  EXPECT_EQ(second->restored, 0);
  EXPECT_EQ(second->skipped_identical, 2);
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), gets);
}

TEST_P(RunRestoreTest, NewerPolicyKeepsNewerLocalFile) {
  mem_.Seed("a.ini", "backup content", Meta(FileTime{1600000000, 0}, 0100640));
  WriteFile(dir_ / "a.ini", "local edit");  // mtime now: newer
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->kept_local, 1);
  EXPECT_EQ(stats->restored, 0);
  EXPECT_EQ(ReadFile(dir_ / "a.ini"), "local edit");
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 0);
}

TEST_P(RunRestoreTest, NewerPolicyTakesNewerBackup) {
  mem_.Seed("a.ini", "backup content", Meta(kStored, 0100640));
  WriteFile(dir_ / "a.ini", "old local");
  SetMtime(dir_ / "a.ini", FileTime{1000000000, 0});
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 1);
  EXPECT_EQ(ReadFile(dir_ / "a.ini"), "backup content");
}

TEST_P(RunRestoreTest, RemotePolicyOverwritesNewerLocalFile) {
  mem_.Seed("a.ini", "backup content", Meta(FileTime{1600000000, 0}, 0100640));
  WriteFile(dir_ / "a.ini", "local edit");
  RestoreOptions opts = Opts();
  opts.policy = ConflictPolicy::kRemote;
  auto stats = Run(opts);
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 1);
  EXPECT_EQ(ReadFile(dir_ / "a.ini"), "backup content");
  struct stat st = LStat(dir_ / "a.ini");
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_P(RunRestoreTest, LocalPolicyKeepsOlderLocalFile) {
  mem_.Seed("a.ini", "backup content", Meta(kStored, 0100640));
  mem_.Seed("b.ini", "absent locally", Meta(kStored, 0100640));
  WriteFile(dir_ / "a.ini", "old local");
  SetMtime(dir_ / "a.ini", FileTime{1000000000, 0});
  RestoreOptions opts = Opts();
  opts.policy = ConflictPolicy::kLocal;
  auto stats = Run(opts);
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->kept_local, 1);
  EXPECT_EQ(stats->restored, 1);
  EXPECT_EQ(ReadFile(dir_ / "a.ini"), "old local");
  EXPECT_EQ(ReadFile(dir_ / "b.ini"), "absent locally");
}

TEST_P(RunRestoreTest, FileInTheWayOfAFolderIsRejectedOrFailsButNotReplaced) {
  WriteFile(dir_ / "blocker", "i am a file");
  mem_.Seed("blocker/x.ini", "x");
  auto stats = Run();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->restored, 0);
  EXPECT_EQ(stats->rejected + stats->failed, 1);
  EXPECT_EQ(ReadFile(dir_ / "blocker"), "i am a file");
}

TEST_P(RunRestoreTest, StopEndsStalledDownloadsAndLeavesNoPartialFile) {
  mem_.Seed("a.ini", "a=1\n", Meta(kStored, 0100640));
  mem_.Seed("sub/b.ini", "b=2\n", Meta(kStored, 0100640));
  mem_.SetStalled(true);
  std::stop_source stop;
  RestoreOptions opts = Opts();
  opts.stop = stop.get_token();
  auto run = std::async(std::launch::async, [&] { return Run(opts); });
  ASSERT_EQ(run.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  stop.request_stop();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto stats = run.get();
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kCancelled);
  EXPECT_NE(stats.error().message.find("restore interrupted"), std::string::npos)
      << stats.error().message;
  for (const auto& e : fs::recursive_directory_iterator(dir_)) {
    EXPECT_FALSE(e.is_regular_file()) << "left behind: " << e.path();
  }
}

INSTANTIATE_TEST_SUITE_P(FlushModes, RunRestoreTest,
                         ::testing::Values(FlushMode::kGroup, FlushMode::kEachFile),
                         [](const ::testing::TestParamInfo<FlushMode>& p) {
                           return p.param == FlushMode::kGroup ? "GroupSyncfs" : "FsyncEachFile";
                         });

TEST(ParseOwnerTest, UidColonGid) {
  auto o = ParseOwner("1000:2000");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->uid, 1000u);
  EXPECT_EQ(o->gid, 2000u);
  auto root = ParseOwner("0:0");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->uid, 0u);
}

TEST(ParseOwnerTest, BadValuesAreConfigErrorsNamingTheFlag) {
  for (const char* bad : {"", "1000", ":1000", "1000:", "a:b", "1000:1000:1", "-1:0", " 1:1",
                          "1:1 ", "root:root", "99999999999:1"}) {
    auto o = ParseOwner(bad);
    ASSERT_FALSE(o) << "\"" << bad << "\"";
    EXPECT_EQ(o.error().kind, ErrorKind::kConfig) << bad;
    EXPECT_NE(o.error().message.find("--chown"), std::string::npos) << o.error().message;
  }
}

TEST(RestoreSummaryLineTest, MentionsTheCounts) {
  RestoreStats s;
  s.restored = 12;
  s.skipped_identical = 3;
  s.rejected = 2;
  s.failed = 1;
  std::string line = SummaryLine(s);
  EXPECT_NE(line.find("restored 12"), std::string::npos) << line;
  EXPECT_NE(line.find("3 identical"), std::string::npos) << line;
  EXPECT_NE(line.find("rejected 2"), std::string::npos) << line;
  EXPECT_NE(line.find("failed 1"), std::string::npos) << line;
}

}  // namespace
}  // namespace cfgsync

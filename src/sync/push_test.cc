#include "sync/push.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/hash.h"
#include "support/fault_remote.h"
#include "support/files.h"
#include "support/mem_remote.h"
#include "support/remote_files.h"
#include "support/result_text.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;
using testing::WriteFile;

void SetMtime(const fs::path& path, FileTime t) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {t.sec, static_cast<long>(t.nsec)}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, 0), 0) << path;
}

std::string Md5Hex(const std::string& s) { return HexEncode(Md5(s)); }

using testing::Text;

const RemoteOp kAllOps[] = {RemoteOp::kCheckRoot, RemoteOp::kList, RemoteOp::kStat,
                            RemoteOp::kGet,       RemoteOp::kPut,  RemoteOp::kRemove};

class PusherTest : public ::testing::Test {
 protected:
  PushOptions Opts() const {
    PushOptions o;
    o.dir = dir_;
    o.guard = *ParseDeleteGuard("50%");
    o.transfers = 4;
    return o;
  }

  // Total requests of every kind made to the remote so far.
  int TotalCalls() const {
    int n = 0;
    for (RemoteOp op : kAllOps) n += mem_.Calls(op);
    return n;
  }

  std::vector<std::string> RemoteKeys() {
    auto list = mem_.List("");
    EXPECT_TRUE(list) << Text(list);
    std::vector<std::string> keys;
    if (list)
      for (const auto& o : *list) keys.push_back(o.key);
    return keys;
  }

  testing::TempDir tmp_{"cfgsync-push"};
  fs::path dir_ = tmp_.path() / "config";
  MemRemote mem_;
  Filter filter_ = *Filter::Build(FilterOptions{});
};

/* `status` compares page by page and keeps only the entries of local files: the index stays
 * empty, and deletions past the first 10,000 are counted, not named. */
TEST_F(PusherTest, PlanReadOnlyStreamsTheListingAndCapsNamedDeletions) {
  WriteFile(dir_ / "a.ini", "alpha");
  mem_.Seed("a.ini", "other");
  for (int i = 0; i < 10'005; ++i) mem_.Seed("gone/k" + std::to_string(100'000 + i), "x");
  mem_.SetPageSize(1000);
  PushOptions opts = Opts();
  opts.guard = *ParseDeleteGuard("100%");
  Pusher pusher(mem_, filter_, opts, RealClock::Get());
  auto plan = pusher.PlanReadOnly();
  ASSERT_TRUE(plan) << Text(plan);
  EXPECT_EQ(plan->uploads, std::vector<std::string>{"a.ini"});
  EXPECT_EQ(plan->deletes.size(), 10'000u);
  EXPECT_EQ(plan->deletes.front(), "gone/k100000");
  EXPECT_EQ(plan->unnamed_deletes, 5);
  EXPECT_EQ(plan->blocked_deletes, 0);
  EXPECT_EQ(pusher.IndexSize(), 0u);
  EXPECT_EQ(mem_.Calls(RemoteOp::kList), 11);

  opts.guard = *ParseDeleteGuard("50%");
  Pusher guarded(mem_, filter_, opts, RealClock::Get());
  plan = guarded.PlanReadOnly();
  ASSERT_TRUE(plan) << Text(plan);
  EXPECT_TRUE(plan->deletes.empty());
  EXPECT_EQ(plan->blocked_deletes, 10'005);
  EXPECT_NE(plan->guard_reason.find("10005 of 10006"), std::string::npos) << plan->guard_reason;
}

TEST_F(PusherTest, ReconcileUploadsNewFilesWithMetadata) {
  WriteFile(dir_ / "a.ini", "alpha");
  WriteFile(dir_ / "sub" / "b.yaml", "beta: 1\n");
  ASSERT_EQ(::chmod((dir_ / "a.ini").c_str(), 0640), 0);
  SetMtime(dir_ / "a.ini", FileTime{1709618828, 123456789});
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 2);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(stats->failed, 0);
  EXPECT_EQ(stats->bytes, 13u);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 2);
  EXPECT_EQ(mem_.Content("a.ini"), std::string("alpha"));
  EXPECT_EQ(mem_.Content("sub/b.yaml"), std::string("beta: 1\n"));
  EXPECT_EQ(pusher.IndexSize(), 2u);

  auto st = mem_.Stat("a.ini");
  ASSERT_TRUE(st) << Text(st);
  ASSERT_TRUE(st->meta.has_value());
  struct stat local;
  ASSERT_EQ(::lstat((dir_ / "a.ini").c_str(), &local), 0);
  EXPECT_EQ(st->meta->mtime, (FileTime{1709618828, 123456789}));
  EXPECT_EQ(st->meta->mode, static_cast<std::uint32_t>(S_IFREG | 0640));
  EXPECT_EQ(st->meta->uid, local.st_uid);
  EXPECT_EQ(st->meta->gid, local.st_gid);
  EXPECT_EQ(st->meta->md5_hex, Md5Hex("alpha"));
}

TEST_F(PusherTest, SecondReconcileUploadsNothing) {
  WriteFile(dir_ / "a.ini", "alpha");
  WriteFile(dir_ / "sub" / "b.yaml", "beta");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  int puts = mem_.Calls(RemoteOp::kPut);
  int stats_calls = mem_.Calls(RemoteOp::kStat);
  auto again = pusher.Reconcile();
  ASSERT_TRUE(again) << Text(again);
  EXPECT_EQ(again->uploaded, 0);
  EXPECT_EQ(again->identical, 2);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), puts);
  EXPECT_EQ(mem_.Calls(RemoteOp::kStat), stats_calls);  // our own writes need no HEAD
}

TEST_F(PusherTest, ReconcileUploadsChangedContentAndAttributes) {
  WriteFile(dir_ / "a.ini", "alpha");
  WriteFile(dir_ / "b.ini", "bravo");
  WriteFile(dir_ / "c.ini", "charlie");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  WriteFile(dir_ / "a.ini", "ALPHA");  // same size, new content
  ASSERT_EQ(::chmod((dir_ / "b.ini").c_str(), 0600), 0);
  int puts = mem_.Calls(RemoteOp::kPut);
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 2);
  EXPECT_EQ(stats->identical, 1);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), puts + 2);
  EXPECT_EQ(mem_.Content("a.ini"), std::string("ALPHA"));
  EXPECT_EQ(mem_.Stat("b.ini")->meta->mode, static_cast<std::uint32_t>(S_IFREG | 0600));
}

TEST_F(PusherTest, ReconcileAgainstObjectsStoredEarlierNeedsNoUpload) {
  WriteFile(dir_ / "a.ini", "alpha");
  // Stored after the file was last changed, without attributes (e.g. a listing from S3 after
  // a restart): same md5 and an older ctime mean nothing changed since.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  mem_.Seed("a.ini", "alpha");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->identical, 1);
  EXPECT_EQ(stats->uploaded, 0);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 0);
  EXPECT_EQ(mem_.Calls(RemoteOp::kStat), 0);
}

TEST_F(PusherTest, ReconcileVerifiesFilesTouchedSinceStoredAndUploadsChangedAttributes) {
  mem_.Seed("a.ini", "alpha");  // stored without mtime/mode/owner
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  WriteFile(dir_ / "a.ini", "alpha");  // same content, ctime newer than the object
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(mem_.Calls(RemoteOp::kStat), 1);  // verified
  EXPECT_EQ(stats->uploaded, 1);              // stored attributes differ
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 1);
  EXPECT_TRUE(mem_.Stat("a.ini")->meta->mtime.has_value());
}

TEST_F(PusherTest, ReconcileDeletesKeysAbsentLocally) {
  WriteFile(dir_ / "a.ini", "alpha");
  mem_.Seed("gone.ini", "g");
  mem_.Seed("sub/gone.ini", "g");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 2);
  EXPECT_EQ(RemoteKeys(), std::vector<std::string>{"a.ini"});
  EXPECT_EQ(pusher.IndexSize(), 1u);
}

TEST_F(PusherTest, ReconcileNeverDeletesExcludedKeysOrFolderMarkers) {
  WriteFile(dir_ / "a.ini", "alpha");
  mem_.Seed("old.log", "l");
  mem_.Seed("home.db", "d");
  mem_.Seed("folder/", "");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(RemoteKeys(), (std::vector<std::string>{"a.ini", "folder/", "home.db", "old.log"}));
}

TEST_F(PusherTest, ExcludedFilesNeverUploaded) {
  WriteFile(dir_ / "a.ini", "alpha");
  WriteFile(dir_ / "app.log", "log");
  WriteFile(dir_ / "home.db", "db");
  WriteFile(dir_ / "home.db-wal", "wal");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 1);
  EXPECT_EQ(RemoteKeys(), std::vector<std::string>{"a.ini"});

  int before = TotalCalls();
  auto pushed = pusher.PushPath("app.log");
  ASSERT_TRUE(pushed) << Text(pushed);
  EXPECT_EQ(pushed->uploaded, 0);
  EXPECT_EQ(TotalCalls(), before);
  EXPECT_EQ(mem_.Content("app.log"), std::nullopt);
}

TEST_F(PusherTest, SymlinksSkipped) {
  WriteFile(tmp_.path() / "outside.ini", "secret outside");
  WriteFile(dir_ / "a.ini", "alpha");
  fs::create_symlink(tmp_.path() / "outside.ini", dir_ / "link.ini");
  fs::create_symlink(tmp_.path(), dir_ / "linkdir");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 1);
  EXPECT_EQ(RemoteKeys(), std::vector<std::string>{"a.ini"});

  auto pushed = pusher.PushPath("link.ini");
  EXPECT_FALSE(pushed && pushed->uploaded > 0);
  EXPECT_EQ(mem_.Content("link.ini"), std::nullopt);
}

TEST_F(PusherTest, PushPathOfUnchangedFileMakesNoRequest) {
  WriteFile(dir_ / "a.ini", "alpha");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  int before = TotalCalls();
  auto stats = pusher.PushPath("a.ini");
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 0);
  EXPECT_EQ(stats->identical, 1);
  EXPECT_EQ(TotalCalls(), before);
}

TEST_F(PusherTest, PushPathAfterContentChangeMakesOnePut) {
  WriteFile(dir_ / "a.ini", "alpha");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  WriteFile(dir_ / "a.ini", "alpha, edited");
  int before = TotalCalls();
  int puts = mem_.Calls(RemoteOp::kPut);
  auto stats = pusher.PushPath("a.ini");
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 1);
  EXPECT_EQ(stats->bytes, 13u);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), puts + 1);
  EXPECT_EQ(TotalCalls(), before + 1);
  EXPECT_EQ(mem_.Content("a.ini"), std::string("alpha, edited"));
  // And now it is known: a second push is free.
  int after = TotalCalls();
  ASSERT_TRUE(pusher.PushPath("a.ini"));
  EXPECT_EQ(TotalCalls(), after);
}

TEST_F(PusherTest, PushPathAfterSameSizeContentChangeUploads) {
  WriteFile(dir_ / "a.ini", "alpha");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  WriteFile(dir_ / "a.ini", "ALPHA");
  // Even with the old mtime put back, the content differs.
  auto st = mem_.Stat("a.ini");
  ASSERT_TRUE(st && st->meta && st->meta->mtime);
  SetMtime(dir_ / "a.ini", *st->meta->mtime);
  auto stats = pusher.PushPath("a.ini");
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 1);
  EXPECT_EQ(mem_.Content("a.ini"), std::string("ALPHA"));
}

TEST_F(PusherTest, PushPathAfterModeChangeMakesOnePut) {
  WriteFile(dir_ / "a.ini", "alpha");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  ASSERT_EQ(::chmod((dir_ / "a.ini").c_str(), 0600), 0);
  int puts = mem_.Calls(RemoteOp::kPut);
  auto stats = pusher.PushPath("a.ini");
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 1);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), puts + 1);
  EXPECT_EQ(mem_.Stat("a.ini")->meta->mode, static_cast<std::uint32_t>(S_IFREG | 0600));
}

TEST_F(PusherTest, PushPathOfNewFileUploads) {
  fs::create_directories(dir_);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  WriteFile(dir_ / "new" / "n.ini", "new");
  auto stats = pusher.PushPath("new/n.ini");
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 1);
  EXPECT_EQ(mem_.Content("new/n.ini"), std::string("new"));
  EXPECT_EQ(pusher.IndexSize(), 1u);
}

TEST_F(PusherTest, PushPathOfMissingFileIsNotFound) {
  fs::create_directories(dir_);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.PushPath("missing.ini");
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kNotFound) << Text(stats);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 0);
}

// A tree of `n` files f00.ini ... pushed once.
class PusherRemoveTest : public PusherTest {
 protected:
  void Populate(int n) {
    for (int i = 0; i < n; ++i) WriteFile(dir_ / Name(i), "content " + std::to_string(i));
  }
  static std::string Name(int i) {
    return "f" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".ini";
  }
};

TEST_F(PusherRemoveTest, RemovePathsDeletesAFile) {
  Populate(3);
  WriteFile(dir_ / "doomed.ini", "d");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  fs::remove(dir_ / "doomed.ini");
  auto stats = pusher.RemovePaths({"doomed.ini"});
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 1);
  EXPECT_EQ(stats->blocked_deletes, 0);
  EXPECT_EQ(mem_.Content("doomed.ini"), std::nullopt);
  EXPECT_EQ(mem_.Calls(RemoteOp::kRemove), 1);
  EXPECT_EQ(pusher.IndexSize(), 3u);
}

TEST_F(PusherRemoveTest, RemovePathsDeletesAFolderPrefixOnly) {
  Populate(3);
  WriteFile(dir_ / "sub" / "a.ini", "a");
  WriteFile(dir_ / "sub" / "deep" / "b.ini", "b");
  WriteFile(dir_ / "sub.ini", "sibling file");
  WriteFile(dir_ / "sub-other" / "c.ini", "sibling folder");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  fs::remove_all(dir_ / "sub");
  auto stats = pusher.RemovePaths({"sub"});
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 2);
  EXPECT_EQ(mem_.Content("sub/a.ini"), std::nullopt);
  EXPECT_EQ(mem_.Content("sub/deep/b.ini"), std::nullopt);
  EXPECT_EQ(mem_.Content("sub.ini"), std::string("sibling file"));
  EXPECT_EQ(mem_.Content("sub-other/c.ini"), std::string("sibling folder"));
}

// A monotonic clock moved by hand.
class StepClock final : public Clock {
 public:
  WallTime Wall() const override { return WallTime{} + (mono_.load() - MonoTime{}); }
  MonoTime Mono() const override { return mono_.load(); }
  void SleepFor(std::chrono::nanoseconds d) override { Advance(d); }
  void Advance(std::chrono::nanoseconds d) {
    mono_.store(mono_.load() + std::chrono::duration_cast<MonoTime::duration>(d));
  }

 private:
  std::atomic<MonoTime> mono_{MonoTime{} + std::chrono::hours(1)};
};

TEST_F(PusherRemoveTest, GuardCountsTheDeletionsOfTheLastWindowWithTheBatch) {
  Populate(20);
  StepClock clock;
  Pusher pusher(mem_, filter_, Opts(), clock);
  ASSERT_TRUE(pusher.Reconcile());
  std::vector<std::string> first, second;
  for (int i = 0; i < 6; ++i) first.push_back(Name(i));
  for (int i = 6; i < 12; ++i) second.push_back(Name(i));
  for (int i = 0; i < 12; ++i) fs::remove(dir_ / Name(i));

  auto a = pusher.RemovePaths(first);  // 6 of 20: allowed
  ASSERT_TRUE(a) << Text(a);
  EXPECT_EQ(a->deleted, 6);
  clock.Advance(std::chrono::seconds(10));
  auto b = pusher.RemovePaths(second);  // 6 more within the window: 12 of 20
  ASSERT_TRUE(b) << Text(b);
  EXPECT_EQ(b->deleted, 0);
  EXPECT_EQ(b->blocked_deletes, 6);
  EXPECT_FALSE(b->guard_reason.empty());
  EXPECT_EQ(mem_.Content(Name(6)), std::string("content 6"));

  clock.Advance(std::chrono::seconds(61));  // the first batch is history: 6 of 14
  auto c = pusher.RemovePaths(second);
  ASSERT_TRUE(c) << Text(c);
  EXPECT_EQ(c->deleted, 6);
  EXPECT_EQ(pusher.IndexSize(), 8u);
}

TEST_F(PusherRemoveTest, RemovePathsSkipsPathsThatExistAgain) {
  Populate(3);
  WriteFile(dir_ / "back.ini", "b");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  // Deleted and re-created before the batch ran (editor save pattern).
  auto stats = pusher.RemovePaths({"back.ini"});
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(mem_.Calls(RemoteOp::kRemove), 0);
  EXPECT_EQ(mem_.Content("back.ini"), std::string("b"));
}

TEST_F(PusherRemoveTest, RemovePathsOfFolderSkipsFilesThatExistAgain) {
  Populate(3);
  WriteFile(dir_ / "sub" / "a.ini", "a");
  WriteFile(dir_ / "sub" / "b.ini", "b");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  fs::remove(dir_ / "sub" / "a.ini");
  auto stats = pusher.RemovePaths({"sub"});
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 1);
  EXPECT_EQ(mem_.Content("sub/a.ini"), std::nullopt);
  EXPECT_EQ(mem_.Content("sub/b.ini"), std::string("b"));
}

// Reconcile never deletes excluded keys or folder markers (PlanPush's contract); the watcher's
// folder deletion must not either.
TEST_F(PusherRemoveTest, RemovePathsOfFolderNeverDeletesExcludedKeysOrFolderMarkers) {
  Populate(3);
  WriteFile(dir_ / "sub" / "a.ini", "a");
  mem_.Seed("sub/", "");              // a folder marker
  mem_.Seed("sub/home.db", "db");     // excluded by default (*.db*)
  mem_.Seed("sub/debug.log", "log");  // excluded by default (*.log)
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto first = pusher.Reconcile();
  ASSERT_TRUE(first) << Text(first);
  ASSERT_EQ(first->deleted, 0);
  fs::remove_all(dir_ / "sub");
  auto stats = pusher.RemovePaths({"sub"});
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(mem_.Content("sub/a.ini"), std::nullopt);
  EXPECT_EQ(mem_.Content("sub/home.db"), std::string("db"));
  EXPECT_EQ(mem_.Content("sub/debug.log"), std::string("log"));
  EXPECT_EQ(mem_.Content("sub/"), std::string(""));
  EXPECT_EQ(stats->deleted, 1);
}

TEST_F(PusherRemoveTest, RemovePathsOfUnknownKeysCostsNothing) {
  Populate(3);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  int before = TotalCalls();
  auto stats = pusher.RemovePaths({"never-uploaded.ini", "no/such/folder"});
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(TotalCalls(), before);
}

TEST_F(PusherRemoveTest, RemovePathsNeverDeletesWhenLocalFolderHasNoFiles) {
  Populate(2);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  fs::remove(dir_ / Name(0));
  fs::remove(dir_ / Name(1));
  WriteFile(dir_ / "only.log", "excluded files do not count");
  auto stats = pusher.RemovePaths({Name(0), Name(1)});
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(stats->blocked_deletes, 2);
  EXPECT_FALSE(stats->guard_reason.empty());
  EXPECT_EQ(mem_.Calls(RemoteOp::kRemove), 0);
  EXPECT_TRUE(mem_.Content(Name(0)).has_value());
}

TEST_F(PusherRemoveTest, RemovePathsNeverDeletesWhenLocalFolderIsGone) {
  Populate(2);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  fs::remove_all(dir_);
  auto stats = pusher.RemovePaths({Name(0)});
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(stats->blocked_deletes, 1);
  EXPECT_EQ(mem_.Calls(RemoteOp::kRemove), 0);
}

TEST_F(PusherRemoveTest, ReconcileWithEmptyLocalFolderDeletesNothing) {
  Populate(4);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  for (int i = 0; i < 4; ++i) fs::remove(dir_ / Name(i));
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(stats->blocked_deletes, 4);
  EXPECT_FALSE(stats->guard_reason.empty());
  EXPECT_EQ(RemoteKeys().size(), 4u);
}

TEST_F(PusherRemoveTest, ReconcileWithMissingLocalFolderDeletesNothing) {
  Populate(4);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  fs::remove_all(dir_);
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(stats->blocked_deletes, 4);
  EXPECT_EQ(mem_.Calls(RemoteOp::kRemove), 0);
}

TEST_F(PusherRemoveTest, GuardTripsOnMassDeletion) {
  Populate(12);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  std::vector<std::string> gone;
  for (int i = 0; i < 7; ++i) {
    fs::remove(dir_ / Name(i));
    gone.push_back(Name(i));
  }
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(stats->blocked_deletes, 7);
  EXPECT_FALSE(stats->guard_reason.empty());
  EXPECT_EQ(RemoteKeys().size(), 12u);

  auto removed = pusher.RemovePaths(gone);
  ASSERT_TRUE(removed) << Text(removed);
  EXPECT_EQ(removed->deleted, 0);
  EXPECT_EQ(removed->blocked_deletes, 7);
  EXPECT_EQ(mem_.Calls(RemoteOp::kRemove), 0);
  EXPECT_EQ(RemoteKeys().size(), 12u);
}

TEST_F(PusherRemoveTest, GuardAllowsDeletionsUnderTheLimit) {
  Populate(12);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  for (int i = 0; i < 6; ++i) fs::remove(dir_ / Name(i));
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 6);
  EXPECT_EQ(stats->blocked_deletes, 0);
  EXPECT_EQ(RemoteKeys().size(), 6u);
}

TEST_F(PusherRemoveTest, CountGuardAppliesToRemovePaths) {
  Populate(5);
  PushOptions opts = Opts();
  opts.guard = *ParseDeleteGuard("1");
  Pusher pusher(mem_, filter_, opts, RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  fs::remove(dir_ / Name(0));
  fs::remove(dir_ / Name(1));
  auto blocked = pusher.RemovePaths({Name(0), Name(1)});
  ASSERT_TRUE(blocked) << Text(blocked);
  EXPECT_EQ(blocked->deleted, 0);
  EXPECT_EQ(blocked->blocked_deletes, 2);
  auto one = pusher.RemovePaths({Name(0)});
  ASSERT_TRUE(one) << Text(one);
  EXPECT_EQ(one->deleted, 1);
}

TEST_F(PusherTest, DryRunReconcileChangesNothing) {
  WriteFile(dir_ / "a.ini", "alpha");
  mem_.Seed("gone.ini", "g");
  PushOptions opts = Opts();
  opts.dry_run = true;
  Pusher pusher(mem_, filter_, opts, RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 1);  // would upload
  EXPECT_EQ(stats->deleted, 1);   // would delete
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 0);
  EXPECT_EQ(mem_.Calls(RemoteOp::kRemove), 0);
  EXPECT_EQ(RemoteKeys(), std::vector<std::string>{"gone.ini"});
}

TEST_F(PusherTest, ReconcileReportsMissingBucket) {
  WriteFile(dir_ / "a.ini", "alpha");
  mem_.SetBucketMissing(true);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kNoSuchBucket);
}

TEST_F(PusherTest, PerFileUploadFailureIsCountedNotFatal) {
  WriteFile(dir_ / "a.ini", "alpha");
  WriteFile(dir_ / "b.ini", "bravo");
  FaultRemote fault(mem_);
  fault.SetHook([](RemoteOp op, std::string_view key) -> std::optional<Error> {
    if (op == RemoteOp::kPut && key == "b.ini") return Error{ErrorKind::kTransient, "503", 503};
    return std::nullopt;
  });
  Pusher pusher(fault, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->uploaded, 1);
  EXPECT_EQ(stats->failed, 1);
  EXPECT_EQ(RemoteKeys(), std::vector<std::string>{"a.ini"});
  // The next pass retries it.
  fault.SetHook({});
  auto again = pusher.Reconcile();
  ASSERT_TRUE(again) << Text(again);
  EXPECT_EQ(again->uploaded, 1);
  EXPECT_EQ(mem_.Content("b.ini"), std::string("bravo"));
}

TEST_F(PusherTest, ARemoteThatRefusesWritesStopsThePass) {
  for (int i = 0; i < 40; ++i) WriteFile(dir_ / ("f" + std::to_string(i) + ".ini"), "x");
  FaultRemote fault(mem_);
  std::atomic<int> puts{0};
  fault.SetHook([&](RemoteOp op, std::string_view) -> std::optional<Error> {
    if (op != RemoteOp::kPut) return std::nullopt;
    ++puts;
    return Error{ErrorKind::kAuth, "AccessDenied", 403};
  });
  Pusher pusher(fault, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  ASSERT_TRUE(stats->remote_error);
  EXPECT_EQ(stats->remote_error->kind, ErrorKind::kAuth);
  EXPECT_EQ(stats->failed, 40);
  EXPECT_LE(puts.load(), Opts().transfers);  // those already started, no more
  puts = 0;
  auto probe = pusher.Reconcile(true);
  ASSERT_TRUE(probe) << Text(probe);
  EXPECT_EQ(puts.load(), 1);  // a probe sends one upload alone
  EXPECT_TRUE(RemoteKeys().empty());
}

TEST_F(PusherTest, SpecialFilesAndBadNamesAreGapsNeverUploads) {
  WriteFile(dir_ / "ok.ini", "ok");
  WriteFile(dir_ / "bad\nname.ini", "x");
  WriteFile(dir_ / "esc\x1b[31m.ini", "x");
  ASSERT_EQ(::mkfifo((dir_ / "pipe.ini").c_str(), 0600), 0);
  fs::create_symlink("ok.ini", dir_ / "link.ini");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(RemoteKeys(), std::vector<std::string>{"ok.ini"});
  EXPECT_EQ(stats->unprotected, 4);
  auto gaps = pusher.gaps().List(10);
  ASSERT_EQ(gaps.size(), 4u);
  std::map<std::string, GapReason> by_path;
  for (const Gap& g : gaps) by_path[g.rel] = g.reason;
  EXPECT_EQ(by_path["bad\nname.ini"], GapReason::kName);
  EXPECT_EQ(by_path["esc\x1b[31m.ini"], GapReason::kName);
  EXPECT_EQ(by_path["pipe.ini"], GapReason::kSpecial);
  EXPECT_EQ(by_path["link.ini"], GapReason::kSymlink);
  auto push = pusher.PushPath("bad\nname.ini");
  EXPECT_FALSE(push);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 1);
  std::size_t count = 0;
  auto unconfirmed = pusher.Unconfirmed(10, &count);
  ASSERT_TRUE(unconfirmed);
  EXPECT_EQ(count, 4u);  // the gaps: ok.ini is in the backup
  fs::remove(dir_ / "bad\nname.ini");
  fs::remove(dir_ / "esc\x1b[31m.ini");
  fs::remove(dir_ / "pipe.ini");
  fs::remove(dir_ / "link.ini");
  ASSERT_TRUE(pusher.Reconcile());
  EXPECT_EQ(pusher.gaps().Count(), 0u);
}

TEST_F(PusherTest, UnconfirmedNamesFilesChangedSinceTheyWereStored) {
  WriteFile(dir_ / "a.ini", "a");
  WriteFile(dir_ / "b.ini", "b");
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  std::size_t count = 9;
  auto before = pusher.Unconfirmed(10, &count);
  ASSERT_TRUE(before);
  EXPECT_EQ(count, 2u);  // nothing stored yet
  ASSERT_TRUE(pusher.Reconcile());
  auto synced = pusher.Unconfirmed(10, &count);
  ASSERT_TRUE(synced);
  EXPECT_EQ(count, 0u);
  WriteFile(dir_ / "b.ini", "b2");
  auto changed = pusher.Unconfirmed(10, &count);
  ASSERT_TRUE(changed);
  EXPECT_EQ(*changed, std::vector<std::string>{"b.ini"});
  EXPECT_EQ(count, 1u);
}

TEST_F(PusherRemoveTest, ObservedRemovalsAreNotCountedByTheGuard) {
  Populate(20);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  std::vector<std::string> gone;
  for (int i = 0; i < 15; ++i) {
    fs::remove(dir_ / Name(i));
    gone.push_back(Name(i));
  }
  auto inferred = pusher.RemovePaths(gone);
  ASSERT_TRUE(inferred) << Text(inferred);
  EXPECT_EQ(inferred->blocked_deletes, 15);
  auto observed = pusher.RemovePaths(gone, true);
  ASSERT_TRUE(observed) << Text(observed);
  EXPECT_EQ(observed->deleted, 15);
  for (int i = 15; i < 20; ++i) fs::remove(dir_ / Name(i));
  auto emptied = pusher.RemovePaths({Name(15)}, true);
  ASSERT_TRUE(emptied) << Text(emptied);
  EXPECT_EQ(emptied->blocked_deletes, 1);  // an emptied folder still deletes nothing
}

TEST_F(PusherRemoveTest, AfterTheRootWasReplacedInferredDeletionsAreHeld) {
  Populate(20);
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  fs::remove(dir_ / Name(0));
  pusher.HoldInferredDeletions("replaced");
  auto stats = pusher.Reconcile();
  ASSERT_TRUE(stats) << Text(stats);
  EXPECT_EQ(stats->deleted, 0);
  EXPECT_EQ(stats->blocked_deletes, 1);
  EXPECT_EQ(stats->guard_reason, "replaced");
}

TEST(PushPlanUnreadableTest, KeysUnderAnUnreadableFolderAreNotDeleted) {
  LocalTree tree;
  tree.root_exists = true;
  tree.files.push_back(LocalFile{"a.ini", {}, {}});
  tree.unreadable_dirs = {"private"};
  RemoteIndex index;
  for (const char* k : {"a.ini", "private/x.ini", "private/sub/y.ini", "private-2/z.ini"})
    index[k] = RemoteEntry{};
  Filter filter = *Filter::Build(FilterOptions{});
  PushPlan plan = PlanPush(tree, index, filter, DeleteGuard{}, [](const LocalFile&) {
    return std::optional<std::string>("d41d8cd98f00b204e9800998ecf8427e");
  });
  EXPECT_EQ(plan.deletes, std::vector<std::string>{"private-2/z.ini"});
}

TEST(PushSummaryLineTest, MentionsCountsAndBlockedDeletions) {
  PushStats s;
  s.uploaded = 3;
  s.deleted = 1;
  s.identical = 40;
  s.blocked_deletes = 7;
  s.guard_reason = "too many";
  std::string line = SummaryLine(s);
  EXPECT_NE(line.find("uploaded 3"), std::string::npos) << line;
  EXPECT_NE(line.find("deleted 1"), std::string::npos) << line;
  EXPECT_NE(line.find("identical 40"), std::string::npos) << line;
  EXPECT_NE(line.find("7 deletions blocked"), std::string::npos) << line;
  EXPECT_NE(line.find("too many"), std::string::npos) << line;
}

TEST_F(PusherTest, PlanningHashesFilesWithoutHoldingTheIndex) {
  fs::create_directories(dir_);
  { std::ofstream big(dir_ / "big.ini"); }
  fs::resize_file(dir_ / "big.ini", std::uintmax_t{128} << 20);  // hashing it takes a while
  Pusher pusher(mem_, filter_, Opts(), RealClock::Get());
  ASSERT_TRUE(pusher.Reconcile());
  using Steady = std::chrono::steady_clock;
  std::atomic<bool> done{false};
  const auto start = Steady::now();
  std::thread pass([&] {
    auto stats = pusher.Reconcile();  // same size as stored: the file is hashed
    EXPECT_TRUE(stats && stats->identical == 1) << Text(stats);
    done = true;
  });
  Steady::duration worst{};
  while (!done) {
    const auto t0 = Steady::now();
    (void)pusher.IndexSize();  // what every push does first: take the index's lock
    worst = std::max(worst, Steady::now() - t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto total = Steady::now() - start;
  pass.join();
  EXPECT_LT(worst * 4, total) << "the index was locked while the file was hashed";
}

}  // namespace
}  // namespace cfgsync

#include "watch/inotify_watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace cfgsync {
namespace {

namespace fs = std::filesystem;
using Events = std::vector<FsEvent>;

FsEvent Changed(const std::string& rel) { return FsEvent{FsEvent::Kind::kChanged, rel, ""}; }
FsEvent Removed(const std::string& rel) { return FsEvent{FsEvent::Kind::kRemoved, rel, ""}; }

bool Has(const Events& events, const FsEvent& e) {
  return std::find(events.begin(), events.end(), e) != events.end();
}

bool HasRescan(const Events& events, const std::string& detail_part) {
  return std::any_of(events.begin(), events.end(), [&](const FsEvent& e) {
    return e.kind == FsEvent::Kind::kRescan && e.detail.find(detail_part) != std::string::npos;
  });
}

// Events naming `rel` or anything below it.
Events Under(const Events& events, const std::string& rel) {
  Events found;
  for (const auto& e : events) {
    if (e.rel == rel || e.rel.starts_with(rel + "/")) found.push_back(e);
  }
  return found;
}

void WriteFile(const fs::path& path, const std::string& content = "x") {
  std::ofstream(path, std::ios::binary) << content;
}

class InotifyWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "cfgsync-watch-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    base_ = templ;
    root_ = base_ / "root";
    outside_ = base_ / "outside";
    fs::create_directories(root_);
    fs::create_directories(outside_);
  }

  void TearDown() override {
    watcher_.reset();
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  void OpenWatcher(const FilterOptions& opts = {}) {
    auto filter = Filter::Build(opts);
    ASSERT_TRUE(filter.has_value()) << filter.error().message;
    auto w = InotifyWatcher::Open(root_, *filter);
    ASSERT_TRUE(w.has_value()) << w.error().message;
    watcher_ = std::move(*w);
    ASSERT_TRUE(watcher_->ReadEvents().empty());
  }

  // Polls the watcher until `done` holds for the events read so far or 5 s pass.
  Events PollUntil(const std::function<bool(const Events&)>& done) {
    Events got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done(got) && std::chrono::steady_clock::now() < deadline) {
      pollfd p{watcher_->fd(), POLLIN, 0};
      ::poll(&p, 1, 50);
      for (auto& e : watcher_->ReadEvents()) got.push_back(std::move(e));
    }
    return got;
  }

  /* Writes a fresh sentinel file and waits for its event. inotify keeps one ordered queue, so
   * once the sentinel is reported every earlier change has been too, which lets tests assert
   * the exact events (and the absence of events) without sleeping. */
  Events Settle() {
    const std::string name = "sentinel-" + std::to_string(++sentinels_) + ".yaml";
    WriteFile(root_ / name);
    Events got = PollUntil([&](const Events& e) { return Has(e, Changed(name)); });
    auto it = std::find(got.begin(), got.end(), Changed(name));
    EXPECT_NE(it, got.end()) << "no event for " << name;
    if (it != got.end()) {
      EXPECT_EQ(it + 1, got.end()) << "events after the sentinel";
    }
    got.erase(it, got.end());
    return got;
  }

  fs::path base_, root_, outside_;
  std::unique_ptr<InotifyWatcher> watcher_;
  int sentinels_ = 0;
};

TEST_F(InotifyWatcherTest, OpenMissingRootIsNotFound) {
  auto filter = Filter::Build({});
  ASSERT_TRUE(filter.has_value());
  auto w = InotifyWatcher::Open(base_ / "missing", *filter);
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().kind, ErrorKind::kNotFound);
}

TEST_F(InotifyWatcherTest, OpenWatchesIncludedFolders) {
  fs::create_directories(root_ / "a/b");
  fs::create_directories(root_ / "cache/x");
  FilterOptions opts;
  opts.excludes = {"cache/"};
  OpenWatcher(opts);
  EXPECT_EQ(watcher_->WatchedDirs(), 3u);
  EXPECT_TRUE(watcher_->Complete());
  EXPECT_GE(watcher_->fd(), 0);
  EXPECT_EQ(::fcntl(watcher_->fd(), F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  EXPECT_EQ(::fcntl(watcher_->fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(InotifyWatcherTest, WriteAndCloseIsChanged) {
  fs::create_directories(root_ / "sub");
  OpenWatcher();
  WriteFile(root_ / "a.yaml");
  WriteFile(root_ / "sub/b.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("a.yaml"), Changed("sub/b.yaml")}));
}

TEST_F(InotifyWatcherTest, AtomicRenameOverReportsTargetChanged) {
  WriteFile(root_ / "a.yaml");
  OpenWatcher();
  WriteFile(root_ / "a.yaml.tmp", "new");
  fs::rename(root_ / "a.yaml.tmp", root_ / "a.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("a.yaml.tmp"), Removed("a.yaml.tmp"), Changed("a.yaml")}));
}

TEST_F(InotifyWatcherTest, OurTempFilesProduceNothing) {
  WriteFile(root_ / "a.yaml");
  OpenWatcher();
  const fs::path tmp = root_ / ".cfgsync-tmp-a.yaml.1234";
  WriteFile(tmp, "new");
  fs::rename(tmp, root_ / "a.yaml");
  WriteFile(root_ / ".cfgsync-tmp-b.yaml.99");
  fs::remove(root_ / ".cfgsync-tmp-b.yaml.99");
  EXPECT_EQ(Settle(), (Events{Changed("a.yaml")}));
}

TEST_F(InotifyWatcherTest, DeleteIsRemoved) {
  WriteFile(root_ / "a.yaml");
  OpenWatcher();
  fs::remove(root_ / "a.yaml");
  EXPECT_EQ(Settle(), (Events{Removed("a.yaml")}));
}

TEST_F(InotifyWatcherTest, ChmodIsChanged) {
  WriteFile(root_ / "a.yaml");
  OpenWatcher();
  fs::permissions(root_ / "a.yaml", fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(Settle(), (Events{Changed("a.yaml")}));
}

TEST_F(InotifyWatcherTest, FileRenameIsRemovedPlusChanged) {
  WriteFile(root_ / "a.yaml");
  OpenWatcher();
  fs::rename(root_ / "a.yaml", root_ / "b.yaml");
  EXPECT_EQ(Settle(), (Events{Removed("a.yaml"), Changed("b.yaml")}));
}

TEST_F(InotifyWatcherTest, NewNestedFoldersReportEveryFile) {
  OpenWatcher();
  fs::create_directories(root_ / "a/b/c");
  WriteFile(root_ / "a/1.yaml");
  WriteFile(root_ / "a/b/2.yaml");
  WriteFile(root_ / "a/b/c/3.yaml");
  Events got = Settle();
  EXPECT_TRUE(Has(got, Changed("a/1.yaml")));
  EXPECT_TRUE(Has(got, Changed("a/b/2.yaml")));
  EXPECT_TRUE(Has(got, Changed("a/b/c/3.yaml")));
  for (const auto& e : got) EXPECT_EQ(e.kind, FsEvent::Kind::kChanged) << e.rel;
  EXPECT_EQ(watcher_->WatchedDirs(), 4u);
  WriteFile(root_ / "a/b/c/4.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("a/b/c/4.yaml")}));
}

TEST_F(InotifyWatcherTest, FolderRenameMovesItsWatches) {
  fs::create_directories(root_ / "d/sub");
  WriteFile(root_ / "d/x.yaml");
  WriteFile(root_ / "d/sub/y.yaml");
  OpenWatcher();
  fs::rename(root_ / "d", root_ / "e");
  Events got = Settle();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], Removed("d"));
  EXPECT_EQ(Under(got, "d"), (Events{Removed("d")}));
  EXPECT_TRUE(Has(got, Changed("e/x.yaml")));
  EXPECT_TRUE(Has(got, Changed("e/sub/y.yaml")));
  EXPECT_EQ(watcher_->WatchedDirs(), 3u);

  WriteFile(root_ / "e/sub/z.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("e/sub/z.yaml")}));
  fs::rename(root_ / "e/sub", root_ / "e/sub2");
  got = Settle();
  EXPECT_TRUE(Has(got, Removed("e/sub")));
  EXPECT_TRUE(Has(got, Changed("e/sub2/y.yaml")));
  EXPECT_TRUE(Has(got, Changed("e/sub2/z.yaml")));
  WriteFile(root_ / "e/sub2/w.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("e/sub2/w.yaml")}));
  EXPECT_EQ(watcher_->WatchedDirs(), 3u);
}

TEST_F(InotifyWatcherTest, FolderRenamePairedByCookieNeedsNoNewWatch) {
  fs::create_directories(root_ / "d/sub/deeper");
  WriteFile(root_ / "d/sub/deeper/y.yaml");
  OpenWatcher();
  ASSERT_EQ(watcher_->WatchedDirs(), 4u);
  watcher_->LimitWatchesForTest(0);  // any watch dropped and re-added would now fail
  fs::rename(root_ / "d", root_ / "e");
  Events got = Settle();
  for (const auto& e : got) EXPECT_NE(e.kind, FsEvent::Kind::kRescan) << e.detail;
  EXPECT_TRUE(Has(got, Changed("e/sub/deeper/y.yaml")));
  EXPECT_TRUE(watcher_->Complete());
  EXPECT_EQ(watcher_->WatchedDirs(), 4u);
  WriteFile(root_ / "e/sub/deeper/z.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("e/sub/deeper/z.yaml")}));
}

TEST_F(InotifyWatcherTest, FolderDeleteIsRemovedAndDropsWatches) {
  fs::create_directories(root_ / "d/sub");
  fs::create_directories(root_ / "d-e");
  WriteFile(root_ / "d/x.yaml");
  WriteFile(root_ / "d/sub/y.yaml");
  OpenWatcher();
  EXPECT_EQ(watcher_->WatchedDirs(), 4u);
  fs::remove_all(root_ / "d");
  Events got = Settle();
  EXPECT_TRUE(Has(got, Removed("d")));
  for (const auto& e : got) EXPECT_EQ(e.kind, FsEvent::Kind::kRemoved) << e.rel;
  EXPECT_EQ(watcher_->WatchedDirs(), 2u);  // the root and "d-e"
  WriteFile(root_ / "d-e/a.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("d-e/a.yaml")}));
}

TEST_F(InotifyWatcherTest, MoveOutOfTreeIsRemoved) {
  fs::create_directories(root_ / "d");
  WriteFile(root_ / "d/x.yaml");
  WriteFile(root_ / "a.yaml");
  OpenWatcher();
  fs::rename(root_ / "a.yaml", outside_ / "a.yaml");
  fs::rename(root_ / "d", outside_ / "d");
  EXPECT_EQ(Settle(), (Events{Removed("a.yaml"), Removed("d")}));
  EXPECT_EQ(watcher_->WatchedDirs(), 1u);
  WriteFile(outside_ / "d/new.yaml");
  WriteFile(outside_ / "a.yaml");
  EXPECT_EQ(Settle(), Events{});
}

TEST_F(InotifyWatcherTest, MoveIntoTreeIsChanged) {
  fs::create_directories(outside_ / "m/n");
  WriteFile(outside_ / "f.yaml");
  WriteFile(outside_ / "m/y.yaml");
  WriteFile(outside_ / "m/n/x.yaml");
  WriteFile(outside_ / "m/n/skip.log");
  OpenWatcher();
  fs::rename(outside_ / "f.yaml", root_ / "f.yaml");
  fs::rename(outside_ / "m", root_ / "m");
  Events got = Settle();
  std::sort(got.begin(), got.end(), [](auto& a, auto& b) { return a.rel < b.rel; });
  EXPECT_EQ(got, (Events{Changed("f.yaml"), Changed("m/n/x.yaml"), Changed("m/y.yaml")}));
  EXPECT_EQ(watcher_->WatchedDirs(), 3u);
  WriteFile(root_ / "m/n/z.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("m/n/z.yaml")}));
}

TEST_F(InotifyWatcherTest, ExcludedPathsProduceNothing) {
  FilterOptions opts;
  opts.excludes = {"cache/"};
  OpenWatcher(opts);
  WriteFile(root_ / "home-assistant.log");
  WriteFile(root_ / "home-assistant_v2.db");
  WriteFile(root_ / "home-assistant_v2.db-wal");
  fs::remove(root_ / "home-assistant.log");
  fs::create_directories(root_ / "cache/deep");
  WriteFile(root_ / "cache/a.yaml");
  WriteFile(root_ / "cache/deep/b.yaml");
  fs::remove_all(root_ / "cache");
  EXPECT_EQ(Settle(), Events{});
  EXPECT_EQ(watcher_->WatchedDirs(), 1u);
}

TEST_F(InotifyWatcherTest, SymlinksAreNotFollowedAndEachNamesWhyItIsSkipped) {
  WriteFile(root_ / "a.yaml");
  OpenWatcher();
  fs::create_symlink(outside_, root_ / "linkdir");
  fs::create_symlink(root_ / "a.yaml", root_ / "link.yaml");
  WriteFile(outside_ / "via-link.yaml");
  const std::string why = "symlink (not followed)";
  EXPECT_EQ(Settle(), (Events{FsEvent{FsEvent::Kind::kRemoved, "linkdir", why},
                              FsEvent{FsEvent::Kind::kRemoved, "link.yaml", why}}));
  EXPECT_EQ(watcher_->WatchedDirs(), 1u);
  fs::rename(root_ / "link.yaml", root_ / "a.yaml");
  EXPECT_EQ(Settle(),
            (Events{Removed("link.yaml"), FsEvent{FsEvent::Kind::kRemoved, "a.yaml", why}}));
}

TEST_F(InotifyWatcherTest, FifoCreatedIsSkippedAsNotARegularFile) {
  OpenWatcher();
  ASSERT_EQ(::mkfifo((root_ / "pipe.yaml").c_str(), 0644), 0);
  EXPECT_EQ(Settle(),
            (Events{FsEvent{FsEvent::Kind::kRemoved, "pipe.yaml", "not a regular file"}}));
}

TEST_F(InotifyWatcherTest, QueueOverflowIsRescanAndWatchesAreRepaired) {
  std::ifstream limit_file("/proc/sys/fs/inotify/max_queued_events");
  long limit = 0;
  if (!(limit_file >> limit) || limit <= 0 || limit > 100000) {
    GTEST_SKIP() << "max_queued_events is " << limit << ": too many events to overflow it";
  }
  fs::create_directories(root_ / "gone");
  OpenWatcher();
  ASSERT_EQ(watcher_->WatchedDirs(), 2u);
  // Each new file queues IN_CREATE and IN_CLOSE_WRITE; distinct names are never merged.
  for (long i = 0; i < limit / 2 + 100; ++i) {
    const int fd = ::open((root_ / ("f" + std::to_string(i))).c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  fs::remove(root_ / "gone");
  fs::create_directories(root_ / "late");
  WriteFile(root_ / "late/early.yaml");
  Events got = PollUntil([](const Events& e) { return HasRescan(e, "overflow"); });
  ASSERT_TRUE(HasRescan(got, "overflow"));
  EXPECT_TRUE(watcher_->Complete());
  EXPECT_EQ(watcher_->WatchedDirs(), 2u);  // the root and "late"; "gone" is dropped
  WriteFile(root_ / "late/after.yaml");
  Events after = Settle();
  EXPECT_TRUE(Has(after, Changed("late/after.yaml")));
}

TEST_F(InotifyWatcherTest, OutOfWatchesIsRescanAndTheRestKeepsWorking) {
  OpenWatcher();
  watcher_->LimitWatchesForTest(1);
  fs::create_directories(root_ / "a/b");
  WriteFile(root_ / "a/b/x.yaml");
  Events got = Settle();
  EXPECT_TRUE(HasRescan(got, "fs.inotify.max_user_watches")) << got.size();
  EXPECT_FALSE(watcher_->Complete());
  EXPECT_EQ(watcher_->WatchedDirs(), 2u);
  WriteFile(root_ / "a/y.yaml");
  EXPECT_EQ(Settle(), (Events{Changed("a/y.yaml")}));
  fs::create_directories(root_ / "c");
  WriteFile(root_ / "c/z.yaml");
  got = Settle();
  EXPECT_TRUE(HasRescan(got, "max_user_watches"));
  EXPECT_TRUE(Has(got, Changed("c/z.yaml")));  // found by the scan of the unwatched folder
}

TEST_F(InotifyWatcherTest, RootRemovedIsRescan) {
  OpenWatcher();
  fs::remove_all(root_);
  Events got = PollUntil([](const Events& e) { return HasRescan(e, "reopen"); });
  EXPECT_TRUE(HasRescan(got, "reopen"));
  EXPECT_EQ(watcher_->WatchedDirs(), 0u);
  EXPECT_FALSE(watcher_->Complete());
}

}  // namespace
}  // namespace cfgsync

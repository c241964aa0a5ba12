#include "sync/group_commit.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "support/test_server.h"

namespace cfgsync {
namespace {

using namespace std::chrono_literals;

PendingFile File(const std::string& rel) { return PendingFile{nullptr, rel + ".tmp", rel, rel, 1}; }

// Records, per file, how many flushes had begun when it was submitted and when it was handed
// over; a flush can be held at its start until the test releases it.
class Recorder {
 public:
  Status Flush() {
    std::unique_lock lock(mu_);
    ++started_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !hold_; });
    if (fail_next_) {
      fail_next_ = false;
      return Fail(ErrorKind::kIo, "flush restored files (syncfs /config): Input/output error");
    }
    return {};
  }
  void Done(const PendingFile& f, const Status& s) {
    std::lock_guard lock(mu_);
    done_at_[f.rel] = started_;
    outcome_[f.rel] = s ? "ok" : s.error().message;
  }
  void Submitting(const std::string& rel) {
    std::lock_guard lock(mu_);
    submitted_at_[rel] = started_;
  }
  void Hold(bool on) {
    std::lock_guard lock(mu_);
    hold_ = on;
    changed_.notify_all();
  }
  void WaitForFlushes(int n) {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return started_ >= n; });
  }
  void FailNext() {
    std::lock_guard lock(mu_);
    fail_next_ = true;
  }
  int Started() {
    std::lock_guard lock(mu_);
    return started_;
  }
  std::map<std::string, int> submitted_at_, done_at_;
  std::map<std::string, std::string> outcome_;

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int started_ = 0;
  bool hold_ = false;
  bool fail_next_ = false;
};

GroupCommit Make(Recorder& r, std::size_t max_pending = 128) {
  return GroupCommit([&r] { return r.Flush(); },
                     [&r](const PendingFile& f, const Status& s) { r.Done(f, s); }, max_pending);
}

TEST(GroupCommitTest, EveryFileIsHandedOverAfterAFlushThatBeganAfterItsSubmit) {
  Recorder r;
  {
    GroupCommit gc = Make(r);
    std::vector<std::jthread> writers;
    writers.reserve(4);
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; i < 50; ++i) {
          std::string rel = "d" + std::to_string(w) + "/f" + std::to_string(i);
          r.Submitting(rel);
          gc.Submit(File(rel));
        }
      });
    }
    writers.clear();
    gc.Drain();
    ASSERT_EQ(r.done_at_.size(), 200u);
  }
  for (const auto& [rel, at] : r.done_at_) {
    EXPECT_GT(at, r.submitted_at_.at(rel)) << rel;
    EXPECT_EQ(r.outcome_.at(rel), "ok") << rel;
  }
  EXPECT_LT(r.Started(), 200) << "files that wait together share a flush";
}

TEST(GroupCommitTest, FilesArrivingDuringAFlushShareTheNextOne) {
  Recorder r;
  GroupCommit gc = Make(r);
  r.Hold(true);
  gc.Submit(File("first"));
  r.WaitForFlushes(1);
  for (int i = 0; i < 10; ++i) gc.Submit(File("later" + std::to_string(i)));
  r.Hold(false);
  gc.Drain();
  EXPECT_EQ(r.Started(), 2);
  EXPECT_EQ(r.done_at_.at("first"), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.done_at_.at("later" + std::to_string(i)), 2);
}

TEST(GroupCommitTest, AFailedFlushFailsItsGroupOnlyAndTheNextGroupFlushesAgain) {
  Recorder r;
  GroupCommit gc = Make(r);
  r.FailNext();
  gc.Submit(File("a"));
  gc.Drain();
  gc.Submit(File("b"));
  gc.Drain();
  EXPECT_EQ(r.outcome_.at("a"), "flush restored files (syncfs /config): Input/output error");
  EXPECT_EQ(r.outcome_.at("b"), "ok");
  EXPECT_EQ(r.Started(), 2);
}

TEST(GroupCommitTest, SubmitWaitsWhileTheQueueIsFull) {
  Recorder r;
  GroupCommit gc = Make(r, 2);
  r.Hold(true);
  gc.Submit(File("in-flush"));
  r.WaitForFlushes(1);
  gc.Submit(File("q1"));
  gc.Submit(File("q2"));
  auto third = std::async(std::launch::async, [&] { gc.Submit(File("q3")); });
  EXPECT_EQ(third.wait_for(100ms), std::future_status::timeout);
  r.Hold(false);
  third.get();
  gc.Drain();
  EXPECT_EQ(r.done_at_.size(), 4u);
}

TEST(GroupCommitTest, DestructionHandsOverWhatIsStillQueued) {
  Recorder r;
  {
    GroupCommit gc = Make(r);
    for (int i = 0; i < 20; ++i) gc.Submit(File("f" + std::to_string(i)));
  }
  EXPECT_EQ(r.done_at_.size(), 20u);
}

TEST(GroupCommitTest, DrainWithNothingSubmittedReturnsAtOnce) {
  Recorder r;
  GroupCommit gc = Make(r);
  gc.Drain();
  EXPECT_EQ(r.Started(), 0);
}

TEST(SyncfsCoversFilesTest, NotOnAPseudoFilesystem) {
  UniqueFd proc(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(proc);
  EXPECT_FALSE(SyncfsCoversFiles(proc.get()));
  EXPECT_FALSE(SyncfsCoversFiles(-1));
}

TEST(SyncFilesystemTest, FlushesAFolderAndNamesABadDescriptor) {
  testing::TempDir tmp{"cfgsync-syncfs"};
  UniqueFd dir(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  EXPECT_TRUE(SyncFilesystem(dir.get(), "flush restored files"));
  Status bad = SyncFilesystem(-1, "flush restored files (syncfs /config)");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kIo);
  EXPECT_EQ(bad.error().message, "flush restored files (syncfs /config): Bad file descriptor");
}

}  // namespace
}  // namespace cfgsync

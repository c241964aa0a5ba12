#include "watch/coalescer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cfgsync {
namespace {

const MonoTime kT0 = MonoTime{} + std::chrono::hours(1);

MonoTime At(Millis offset) { return kT0 + offset; }

DueChange Changed(const std::string& rel) { return DueChange{rel, ChangeKind::kChanged}; }
DueChange Removed(const std::string& rel) { return DueChange{rel, ChangeKind::kRemoved}; }

using Due = std::vector<DueChange>;

class CoalescerTest : public ::testing::Test {
 protected:
  Coalescer c_{Millis(500), Millis(5000)};
};

TEST_F(CoalescerTest, EmptyHasNothing) {
  EXPECT_EQ(c_.Pending(), 0u);
  EXPECT_EQ(c_.NextDeadline(), std::nullopt);
  EXPECT_TRUE(c_.TakeDue(At(Millis(100000))).empty());
  EXPECT_TRUE(c_.TakeAll().empty());
}

TEST_F(CoalescerTest, SingleTouchIsDueAfterDebounce) {
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(0)));
  EXPECT_EQ(c_.Pending(), 1u);
  EXPECT_EQ(c_.NextDeadline(), At(Millis(500)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(499))).empty());
  EXPECT_EQ(c_.TakeDue(At(Millis(500))), Due{Changed("a.yaml")});
  EXPECT_EQ(c_.Pending(), 1u);  // in flight
  EXPECT_EQ(c_.NextDeadline(), std::nullopt);
  EXPECT_TRUE(c_.TakeDue(At(Millis(10000))).empty());
  c_.Done("a.yaml", true, At(Millis(0)));
  EXPECT_EQ(c_.Pending(), 0u);
}

TEST_F(CoalescerTest, BurstBecomesOneChangeAfterQuiet) {
  for (int i = 0; i < 20; ++i) {
    c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(100 * i)));
    EXPECT_TRUE(c_.TakeDue(At(Millis(100 * i))).empty());
  }
  EXPECT_EQ(c_.NextDeadline(), At(Millis(1900 + 500)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(2399))).empty());
  EXPECT_EQ(c_.TakeDue(At(Millis(2400))), Due{Changed("a.yaml")});
  c_.Done("a.yaml", true, At(Millis(2400)));
  EXPECT_EQ(c_.Pending(), 0u);
}

TEST_F(CoalescerTest, SlowWriterIsPushedAtMaxDelayAndAgainLater) {
  std::vector<MonoTime> pushes;
  for (int t = 0; t <= 12000; t += 100) {
    const MonoTime now = At(Millis(t));
    if (t % 400 == 0 && t <= 10000) c_.Touch("log.yaml", ChangeKind::kChanged, now);
    for (const auto& d : c_.TakeDue(now)) {
      pushes.push_back(now);
      c_.Done(d.rel, true, now);
    }
  }
  ASSERT_EQ(pushes.size(), 2u);
  EXPECT_EQ(pushes[0], At(Millis(5000)));
  // The first event after the push (at 5200) starts the next burst.
  EXPECT_EQ(pushes[1], At(Millis(5200 + 5000)));
  EXPECT_EQ(c_.Pending(), 0u);
}

TEST_F(CoalescerTest, RenameOverEndsWithTempRemovedAndTargetChanged) {
  c_.Touch("a.yaml.tmp", ChangeKind::kChanged, At(Millis(0)));
  c_.Touch("a.yaml.tmp", ChangeKind::kRemoved, At(Millis(10)));
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(10)));
  EXPECT_EQ(c_.TakeDue(At(Millis(510))), (Due{Changed("a.yaml"), Removed("a.yaml.tmp")}));
}

TEST_F(CoalescerTest, DeleteThenRecreateInsideDebounceIsChanged) {
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(0)));
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(200)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(600))).empty());
  EXPECT_EQ(c_.TakeDue(At(Millis(700))), Due{Changed("a.yaml")});
}

TEST_F(CoalescerTest, CreateThenDeleteInsideDebounceIsRemoved) {
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(0)));
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(200)));
  EXPECT_EQ(c_.TakeDue(At(Millis(700))), Due{Removed("a.yaml")});
}

TEST_F(CoalescerTest, TouchDuringUploadIsDueAgainAfterDone) {
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(600)));
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(700)));
  EXPECT_EQ(c_.NextDeadline(), std::nullopt);
  EXPECT_TRUE(c_.TakeDue(At(Millis(3000))).empty());
  EXPECT_TRUE(c_.TakeAll().empty());
  c_.Done("a.yaml", true, At(Millis(3000)));
  EXPECT_EQ(c_.Pending(), 1u);
  // The upload outlasted the debounce: due at once.
  EXPECT_EQ(c_.NextDeadline(), At(Millis(1200)));
  EXPECT_EQ(c_.TakeDue(At(Millis(3000))), Due{Changed("a.yaml")});
  c_.Done("a.yaml", true, At(Millis(3000)));
  EXPECT_EQ(c_.Pending(), 0u);
}

TEST_F(CoalescerTest, TouchDuringShortUploadKeepsItsDebounce) {
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(550)));
  c_.Done("a.yaml", true, At(Millis(600)));
  EXPECT_EQ(c_.NextDeadline(), At(Millis(1050)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(1049))).empty());
  EXPECT_EQ(c_.TakeDue(At(Millis(1050))), Due{Changed("a.yaml")});
}

TEST_F(CoalescerTest, FailureIsRetriedAtRetryTime) {
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.Done("a.yaml", false, At(Millis(4000)));
  EXPECT_EQ(c_.Pending(), 1u);
  EXPECT_EQ(c_.NextDeadline(), At(Millis(4000)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(3999))).empty());
  EXPECT_EQ(c_.TakeDue(At(Millis(4000))), Due{Changed("a.yaml")});
  c_.Done("a.yaml", true, At(Millis(4100)));
  EXPECT_EQ(c_.Pending(), 0u);
}

TEST_F(CoalescerTest, TouchAfterFailureWaitsForRetryTimeAndDebounce) {
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.Done("a.yaml", false, At(Millis(4000)));
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(1000)));
  EXPECT_EQ(c_.NextDeadline(), At(Millis(4000)));
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(3800)));
  EXPECT_EQ(c_.NextDeadline(), At(Millis(4300)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(4299))).empty());
  EXPECT_EQ(c_.TakeDue(At(Millis(4300))), Due{Changed("a.yaml")});
}

TEST_F(CoalescerTest, TouchDuringFailedUploadWaitsForRetryTime) {
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(600)));
  c_.Done("a.yaml", false, At(Millis(2000)));
  EXPECT_EQ(c_.NextDeadline(), At(Millis(2000)));
  EXPECT_EQ(c_.TakeDue(At(Millis(2000))), Due{Removed("a.yaml")});
}

TEST_F(CoalescerTest, DoneForPathNotInFlightIsIgnored) {
  c_.Done("nothing", true, At(Millis(0)));
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(0)));
  c_.Done("a.yaml", true, At(Millis(0)));
  c_.Done("a.yaml", false, At(Millis(0)));
  EXPECT_EQ(c_.Pending(), 1u);
  EXPECT_EQ(c_.NextDeadline(), At(Millis(500)));
}

TEST_F(CoalescerTest, TakeAllIgnoresDeadlinesAndSkipsPathsInFlight) {
  c_.Touch("a", ChangeKind::kChanged, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.Touch("a", ChangeKind::kChanged, At(Millis(600)));
  c_.Touch("c", ChangeKind::kRemoved, At(Millis(600)));
  c_.Touch("b", ChangeKind::kChanged, At(Millis(600)));
  ASSERT_EQ(c_.TakeDue(At(Millis(1000))).size(), 0u);
  EXPECT_EQ(c_.TakeAll(), (Due{Changed("b"), Removed("c")}));
  EXPECT_EQ(c_.Pending(), 3u);
  c_.Done("b", true, At(Millis(600)));
  c_.Done("c", false, At(Millis(99999)));
  c_.Done("a", true, At(Millis(600)));
  EXPECT_EQ(c_.TakeAll(), (Due{Changed("a"), Removed("c")}));
  c_.Done("a", true, At(Millis(600)));
  c_.Done("c", true, At(Millis(600)));
  EXPECT_EQ(c_.Pending(), 0u);
}

TEST(CoalescerZeroDebounceTest, DueImmediately) {
  Coalescer c(Millis(0), Millis(5000));
  c.Touch("a", ChangeKind::kChanged, At(Millis(0)));
  EXPECT_EQ(c.NextDeadline(), At(Millis(0)));
  EXPECT_EQ(c.TakeDue(At(Millis(0))), Due{Changed("a")});
}

TEST(CoalescerMaxDelayTest, MaxDelayBelowDebounceWins) {
  Coalescer c(Millis(1000), Millis(300));
  c.Touch("a", ChangeKind::kChanged, At(Millis(0)));
  EXPECT_EQ(c.NextDeadline(), At(Millis(300)));
}

TEST_F(CoalescerTest, NextDeadlineIsEarliestAcrossPaths) {
  c_.Touch("a", ChangeKind::kChanged, At(Millis(300)));
  c_.Touch("b", ChangeKind::kChanged, At(Millis(100)));
  EXPECT_EQ(c_.NextDeadline(), At(Millis(600)));
  EXPECT_EQ(c_.TakeDue(At(Millis(600))), Due{Changed("b")});
  EXPECT_EQ(c_.NextDeadline(), At(Millis(800)));
}

TEST_F(CoalescerTest, MemoryIsOneEntryPerPath) {
  for (int i = 0; i < 10000; ++i) {
    c_.Touch("p" + std::to_string(i % 10), ChangeKind::kChanged, At(Millis(i)));
  }
  EXPECT_EQ(c_.Pending(), 10u);
}

TEST_F(CoalescerTest, OneDueRemovalTakesEveryQueuedRemovalAlong) {
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(0)));
  c_.Touch("b.yaml", ChangeKind::kRemoved, At(Millis(300)));
  c_.Touch("c.yaml", ChangeKind::kChanged, At(Millis(300)));
  EXPECT_EQ(c_.TakeDue(At(Millis(500))), Due{Removed("a.yaml")});
  EXPECT_EQ(c_.TakeRemovals(), Due{Removed("b.yaml")});
  EXPECT_TRUE(c_.TakeRemovals().empty());  // in flight now
  EXPECT_EQ(c_.TakeDue(At(Millis(800))), Due{Changed("c.yaml")});
}

TEST_F(CoalescerTest, FilePutBackAfterAHeldBackRemovalIsUploadedAfterTheDebounce) {
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.HoldBack("a.yaml", At(Millis(30'500)));
  EXPECT_EQ(c_.NextDeadline(), At(Millis(30'500)));
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(1000)));
  EXPECT_EQ(c_.TakeDue(At(Millis(1500))), Due{Changed("a.yaml")});
}

TEST_F(CoalescerTest, FilePutBackWhileItsRemovalIsInFlightIsNotHeldBack) {
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.Touch("a.yaml", ChangeKind::kChanged, At(Millis(600)));
  c_.HoldBack("a.yaml", At(Millis(30'500)));
  EXPECT_EQ(c_.TakeDue(At(Millis(1100))), Due{Changed("a.yaml")});
}

TEST_F(CoalescerTest, HeldBackRemovalTouchedAgainAsARemovalStillWaits) {
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.HoldBack("a.yaml", At(Millis(30'500)));
  c_.Touch("a.yaml", ChangeKind::kRemoved, At(Millis(1000)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(30'499))).empty());
  EXPECT_EQ(c_.TakeDue(At(Millis(30'500))), Due{Removed("a.yaml")});
}

}  // namespace
}  // namespace cfgsync

namespace cfgsync {
namespace {

class CoalescerRetryTest : public ::testing::Test {
 protected:
  Coalescer c_{Millis(500), Millis(5000)};
};

TEST_F(CoalescerRetryTest, DeferWaitsUnlessTheFileIsTouchedAgain) {
  c_.Touch("secret.ini", ChangeKind::kChanged, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))), Due{Changed("secret.ini")});
  c_.Defer("secret.ini", At(Millis(60000)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(10000))).empty());
  c_.Touch("secret.ini", ChangeKind::kChanged, At(Millis(10000)));  // its chmod
  EXPECT_EQ(c_.TakeDue(At(Millis(10500))), Due{Changed("secret.ini")});
}

TEST_F(CoalescerRetryTest, DoneKeepsItsFloorEvenWhenTouched) {
  c_.Touch("a.ini", ChangeKind::kChanged, At(Millis(0)));
  ASSERT_EQ(c_.TakeDue(At(Millis(500))).size(), 1u);
  c_.Done("a.ini", false, At(Millis(60000)));
  c_.Touch("a.ini", ChangeKind::kChanged, At(Millis(1000)));
  EXPECT_TRUE(c_.TakeDue(At(Millis(10000))).empty());
  EXPECT_EQ(c_.TakeDue(At(Millis(60000))).size(), 1u);
}

TEST_F(CoalescerRetryTest, RetryAtQueuesOnlyUnknownPaths) {
  c_.RetryAt("a.ini", At(Millis(2000)));
  EXPECT_EQ(c_.NextDeadline(), At(Millis(2000)));
  c_.Touch("b.ini", ChangeKind::kChanged, At(Millis(0)));
  c_.RetryAt("b.ini", At(Millis(9000)));  // already queued: left alone
  EXPECT_EQ(c_.TakeDue(At(Millis(2000))), (Due{Changed("a.ini"), Changed("b.ini")}));
}

TEST_F(CoalescerRetryTest, OldestChangeTracksWhatIsNotStored) {
  EXPECT_EQ(c_.OldestChange(), std::nullopt);
  c_.Touch("a.ini", ChangeKind::kChanged, At(Millis(100)));
  c_.Touch("b.ini", ChangeKind::kChanged, At(Millis(300)));
  ASSERT_EQ(c_.TakeDue(At(Millis(800))).size(), 2u);
  c_.Done("a.ini", false, At(Millis(5000)));  // failed: still behind since 100
  c_.Done("b.ini", true, At(Millis(800)));
  EXPECT_EQ(c_.OldestChange(), At(Millis(100)));
  ASSERT_EQ(c_.TakeDue(At(Millis(5000))).size(), 1u);
  c_.Touch("a.ini", ChangeKind::kChanged, At(Millis(6000)));  // a new burst while in flight
  c_.Done("a.ini", true, At(Millis(6100)));
  EXPECT_EQ(c_.OldestChange(), At(Millis(6000)));
}

TEST_F(CoalescerRetryTest, TakeOneDueHandsOutASingleProbe) {
  c_.Touch("a.ini", ChangeKind::kChanged, At(Millis(0)));
  c_.Touch("b.ini", ChangeKind::kChanged, At(Millis(0)));
  auto one = c_.TakeOneDue(At(Millis(500)));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->rel, "a.ini");
  EXPECT_EQ(c_.TakeDue(At(Millis(500))), Due{Changed("b.ini")});
  EXPECT_EQ(c_.TakeOneDue(At(Millis(500))), std::nullopt);
}

}  // namespace
}  // namespace cfgsync

#include "watch/outage_policy.h"

#include <gtest/gtest.h>

namespace cfgsync {
namespace {

const MonoTime kNow{std::chrono::hours(1)};

Error Outage() { return Error{ErrorKind::kNetwork, "connection refused"}; }
Error Refusal() { return Error{ErrorKind::kAuth, "403"}; }

TEST(OutagePolicyTest, OutagesDoubleUpToFiveSeconds) {
  OutagePolicy p;
  EXPECT_EQ(p.AfterRemoteFailure(kNow, Outage()) - kNow, Millis(500));
  EXPECT_EQ(p.AfterRemoteFailure(kNow, Outage()) - kNow, Millis(1'000));
  EXPECT_EQ(p.AfterRemoteFailure(kNow, Outage()) - kNow, Millis(2'000));
  EXPECT_EQ(p.AfterRemoteFailure(kNow, Outage()) - kNow, Millis(4'000));
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(p.AfterRemoteFailure(kNow, Outage()) - kNow, Millis(5'000));
}

TEST(OutagePolicyTest, RefusalsDoubleUpToTwoMinutes) {
  OutagePolicy p;
  MonoTime::duration last{};
  for (int i = 0; i < 40; ++i) last = p.AfterRemoteFailure(kNow, Refusal()) - kNow;
  EXPECT_EQ(last, Millis(120'000));
}

// A refusal while the server comes back from an outage starts the refusal streak afresh, and
// the outage streak starts afresh after it.
TEST(OutagePolicyTest, KindsBackOffApart) {
  OutagePolicy p;
  for (int i = 0; i < 5; ++i) p.AfterRemoteFailure(kNow, Outage());
  EXPECT_EQ(p.AfterRemoteFailure(kNow, Refusal()) - kNow, Millis(500));
  EXPECT_EQ(p.AfterRemoteFailure(kNow, Outage()) - kNow, Millis(500));
}

TEST(OutagePolicyTest, RemoteBackStartsAgain) {
  OutagePolicy p;
  for (int i = 0; i < 5; ++i) p.AfterRemoteFailure(kNow, Refusal());
  p.RemoteBack();
  EXPECT_EQ(p.AfterRemoteFailure(kNow, Refusal()) - kNow, Millis(500));
}

TEST(OutagePolicyTest, LocalFilesBackOffEachOnTheirOwn) {
  OutagePolicy p;
  EXPECT_EQ(p.AfterLocalFailure("a", kNow) - kNow, Millis(1'000));
  EXPECT_EQ(p.AfterLocalFailure("a", kNow) - kNow, Millis(2'000));
  EXPECT_EQ(p.AfterLocalFailure("b", kNow) - kNow, Millis(1'000));
  for (int i = 0; i < 40; ++i) p.AfterLocalFailure("a", kNow);
  EXPECT_EQ(p.AfterLocalFailure("a", kNow) - kNow, Millis(300'000));
  p.LocalDone("a");
  EXPECT_EQ(p.AfterLocalFailure("a", kNow) - kNow, Millis(1'000));
}

}  // namespace
}  // namespace cfgsync

#include "sync/gaps.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "support/files.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

std::int64_t CountOf(const Gaps& g, GapReason r) {
  return g.ErrorCounts()[static_cast<std::size_t>(r)];
}

TEST(GapsTest, ReportCountsOncePerPathAndReason) {
  Gaps g;
  g.Report("a.ini", GapReason::kPermission, "Permission denied");
  g.Report("a.ini", GapReason::kPermission, "Permission denied");  // a retry
  EXPECT_EQ(g.Count(), 1u);
  EXPECT_EQ(CountOf(g, GapReason::kPermission), 1);
  g.Report("a.ini", GapReason::kSymlink, "symlink");  // another reason is news
  EXPECT_EQ(g.Count(), 1u);
  EXPECT_EQ(CountOf(g, GapReason::kSymlink), 1);
  EXPECT_EQ(g.List(10).front().reason, GapReason::kSymlink);
}

TEST(GapsTest, VanishedIsCountedButLeavesNothingUnprotected) {
  Gaps g;
  g.Report("gone.ini", GapReason::kVanished, "No such file");
  EXPECT_EQ(g.Count(), 0u);
  EXPECT_EQ(CountOf(g, GapReason::kVanished), 1);
}

TEST(GapsTest, ClearForgetsAndReportingAgainCountsAgain) {
  Gaps g;
  g.Report("a.ini", GapReason::kPermission, "x");
  g.Clear("a.ini");
  EXPECT_FALSE(g.Has("a.ini"));
  g.Report("a.ini", GapReason::kPermission, "x");
  EXPECT_EQ(CountOf(g, GapReason::kPermission), 2);
}

TEST(GapsTest, ReplaceAllKeepsOnlyWhatTheScanFound) {
  testing::TempDir tmp("cfgsync-gaps");
  Gaps g;
  g.Report("a.ini", GapReason::kPermission, "x");
  g.Report("b.ini", GapReason::kSpecial, "fifo");
  g.ReplaceAll({Gap{"b.ini", GapReason::kSpecial, "fifo"}, Gap{"c/", GapReason::kPermission, "y"}},
               tmp.path());
  auto list = g.List(10);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].rel, "b.ini");
  EXPECT_EQ(list[1].rel, "c/");
  EXPECT_EQ(CountOf(g, GapReason::kSpecial), 1);  // b.ini was already known
  EXPECT_EQ(g.List(1).size(), 1u);
}

TEST(GapsTest, ReasonsAndNames) {
  EXPECT_EQ(GapReasonForErrno(EACCES), GapReason::kPermission);
  EXPECT_EQ(GapReasonForErrno(EPERM), GapReason::kPermission);
  EXPECT_EQ(GapReasonForErrno(ENOENT), GapReason::kVanished);
  EXPECT_EQ(GapReasonForErrno(EIO), GapReason::kIo);
  EXPECT_EQ(GapReasonName(GapReason::kName), "name");
  EXPECT_EQ(BadNameReason("ok dir/ünïcode file.ini"), "");
  EXPECT_NE(BadNameReason("bad\nname.ini"), "");
  EXPECT_NE(BadNameReason("esc\x1b[31m.ini"), "");
}

TEST(GapsTest, OwnerHintNamesTheFixesOnlyForOtherOwners) {
  testing::TempDir tmp("cfgsync-gaps");
  testing::WriteFile(tmp.path() / "mine.ini", "x");
  Gaps g;
  g.Report("mine.ini", GapReason::kPermission, "Permission denied");
  EXPECT_EQ(OwnerHint(tmp.path(), g), "");  // ours: chmod is the fix, not the uid
  testing::WriteFile(tmp.path() / "theirs.ini", "x");
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file another owner";
  ASSERT_EQ(::chown((tmp.path() / "theirs.ini").c_str(), 911, 911), 0);
  g.Report("theirs.ini", GapReason::kPermission, "Permission denied");
  std::string hint = OwnerHint(tmp.path(), g);
  for (const char* word : {"uid 911", "runAsUser: 911", "PUID=0", "fsGroup"}) {
    EXPECT_NE(hint.find(word), std::string::npos) << word << " in: " << hint;
  }
}

}  // namespace
}  // namespace cfgsync

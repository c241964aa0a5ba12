#include "sync/push_plan.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/hash.h"

namespace cfgsync {
namespace {

using Strings = std::vector<std::string>;

std::string Md5Hex(const std::string& s) { return HexEncode(Md5(s)); }

const FileTime kT1{1700000000, 0};
const FileTime kT2{1700000100, 0};
const FileTime kT3{1700000200, 0};

// A local file of `size` bytes, written at `mtime`, its inode last changed at `ctime`.
LocalFile Local(std::string rel, std::uint64_t size, FileTime mtime = kT1, FileTime ctime = kT1) {
  LocalFile f;
  f.rel = std::move(rel);
  f.version.size = size;
  f.version.mtime = mtime;
  f.version.ctime = ctime;
  f.version.ino = 7;
  f.meta.mtime = mtime;
  f.meta.mode = 0100640;
  f.meta.uid = 1000;
  f.meta.gid = 1000;
  return f;
}

LocalTree Tree(std::vector<LocalFile> files, bool root_exists = true) {
  LocalTree t;
  t.root_exists = root_exists;
  t.files = std::move(files);
  std::sort(t.files.begin(), t.files.end(), [](auto& a, auto& b) { return a.rel < b.rel; });
  return t;
}

// What a listing says of an object holding `content`, stored at `modified`.
RemoteEntry Listed(const std::string& content, FileTime modified = kT2) {
  return RemoteEntry{content.size(), Md5Hex(content), ToWall(modified), std::nullopt};
}

// What our own write of `f` with `content` left in the index.
RemoteEntry Ours(const LocalFile& f, const std::string& content, FileTime modified = kT2) {
  RemoteEntry e = Listed(content, modified);
  FileMeta m = f.meta;
  m.md5_hex = Md5Hex(content);
  e.meta = m;
  return e;
}

struct FakeMd5 {
  std::map<std::string, std::string> md5;
  std::vector<std::string> calls;
  Md5Of Fn() {
    return [this](const LocalFile& f) -> std::optional<std::string> {
      calls.push_back(f.rel);
      auto it = md5.find(f.rel);
      if (it == md5.end()) return std::nullopt;
      return it->second;
    };
  }
};

DeleteGuard Guard(const std::string& text) {
  auto g = ParseDeleteGuard(text);
  EXPECT_TRUE(g) << text;
  return g ? *g : DeleteGuard{};
}

class PlanPushTest : public ::testing::Test {
 protected:
  PushPlan Plan(const LocalTree& local, const RemoteIndex& remote,
                const DeleteGuard& guard = Guard("50%")) {
    return PlanPush(local, remote, filter_, guard, md5_.Fn());
  }

  Filter filter_ = *Filter::Build(FilterOptions{});
  FakeMd5 md5_;
};

TEST_F(PlanPushTest, NewFileUploaded) {
  auto plan = Plan(Tree({Local("a.ini", 3), Local("sub/b.ini", 4)}), {});
  EXPECT_EQ(plan.uploads, (Strings{"a.ini", "sub/b.ini"}));
  EXPECT_TRUE(plan.verify.empty());
  EXPECT_TRUE(plan.deletes.empty());
  EXPECT_EQ(plan.identical, 0);
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanPushTest, SizeDiffersUploadedWithoutHashing) {
  auto plan = Plan(Tree({Local("a.ini", 4)}), {{"a.ini", Listed("abc")}});
  EXPECT_EQ(plan.uploads, Strings{"a.ini"});
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanPushTest, Md5DiffersUploaded) {
  md5_.md5["a.ini"] = Md5Hex("xyz");
  auto plan = Plan(Tree({Local("a.ini", 3)}), {{"a.ini", Listed("abc")}});
  EXPECT_EQ(plan.uploads, Strings{"a.ini"});
  EXPECT_EQ(md5_.calls, Strings{"a.ini"});
}

TEST_F(PlanPushTest, UnreadableLocalFileUploaded) {
  // md5_of gives nullopt: the upload will report the real problem.
  auto plan = Plan(Tree({Local("a.ini", 3)}), {{"a.ini", Listed("abc")}});
  EXPECT_EQ(plan.uploads, Strings{"a.ini"});
}

TEST_F(PlanPushTest, SameMd5AndCtimeOlderThanObjectIsIdentical) {
  md5_.md5["a.ini"] = Md5Hex("abc");
  auto plan = Plan(Tree({Local("a.ini", 3, kT1, kT1)}), {{"a.ini", Listed("abc", kT2)}});
  EXPECT_EQ(plan.identical, 1);
  EXPECT_TRUE(plan.uploads.empty());
  EXPECT_TRUE(plan.verify.empty());
}

TEST_F(PlanPushTest, SameMd5AndCtimeNewerThanObjectIsVerified) {
  md5_.md5["a.ini"] = Md5Hex("abc");
  auto plan = Plan(Tree({Local("a.ini", 3, kT1, kT3)}), {{"a.ini", Listed("abc", kT2)}});
  EXPECT_EQ(plan.verify, Strings{"a.ini"});
  EXPECT_TRUE(plan.uploads.empty());
  EXPECT_EQ(plan.identical, 0);
}

TEST_F(PlanPushTest, MultipartEtagWithoutMetaIsVerified) {
  // Content cannot be compared without the stored md5chksum: ask.
  RemoteEntry e{3, "0123456789abcdef0123456789abcdef-2", ToWall(kT2), std::nullopt};
  auto plan = Plan(Tree({Local("a.ini", 3, kT1, kT1)}), {{"a.ini", e}});
  EXPECT_EQ(plan.verify, Strings{"a.ini"});
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanPushTest, OurOwnWriteWithSameAttributesIsIdenticalEvenIfCtimeIsNewer) {
  LocalFile f = Local("a.ini", 3, kT1, kT3);
  md5_.md5["a.ini"] = Md5Hex("abc");
  auto plan = Plan(Tree({f}), {{"a.ini", Ours(f, "abc", kT2)}});
  EXPECT_EQ(plan.identical, 1);
  EXPECT_TRUE(plan.uploads.empty());
  EXPECT_TRUE(plan.verify.empty());
}

TEST_F(PlanPushTest, OurOwnWriteWithDifferentModeIsUploaded) {
  LocalFile f = Local("a.ini", 3);
  md5_.md5["a.ini"] = Md5Hex("abc");
  RemoteEntry e = Ours(f, "abc");
  e.meta->mode = 0100600;
  auto plan = Plan(Tree({f}), {{"a.ini", e}});
  EXPECT_EQ(plan.uploads, Strings{"a.ini"});
}

TEST_F(PlanPushTest, OurOwnWriteWithDifferentMtimeOrOwnerIsUploaded) {
  md5_.md5["a.ini"] = Md5Hex("abc");
  LocalFile f = Local("a.ini", 3);
  RemoteEntry mtime = Ours(f, "abc");
  mtime.meta->mtime = FileTime{kT1.sec, 1};
  EXPECT_EQ(Plan(Tree({f}), {{"a.ini", mtime}}).uploads, Strings{"a.ini"});
  RemoteEntry uid = Ours(f, "abc");
  uid.meta->uid = 0;
  EXPECT_EQ(Plan(Tree({f}), {{"a.ini", uid}}).uploads, Strings{"a.ini"});
  RemoteEntry gid = Ours(f, "abc");
  gid.meta->gid = 0;
  EXPECT_EQ(Plan(Tree({f}), {{"a.ini", gid}}).uploads, Strings{"a.ini"});
}

TEST_F(PlanPushTest, OurOwnWriteWithDifferentContentIsUploaded) {
  LocalFile f = Local("a.ini", 3);
  md5_.md5["a.ini"] = Md5Hex("xyz");
  auto plan = Plan(Tree({f}), {{"a.ini", Ours(f, "abc")}});
  EXPECT_EQ(plan.uploads, Strings{"a.ini"});
}

TEST_F(PlanPushTest, RemoteKeysAbsentLocallyAreDeleted) {
  auto plan = Plan(Tree({Local("keep.ini", 1)}), {{"gone.ini", Listed("g")},
                                                  {"sub/old.ini", Listed("o")},
                                                  {"keep.ini", Listed("k")},
                                                  {"x1", Listed("1")},
                                                  {"x2", Listed("2")}});
  EXPECT_EQ(plan.deletes, (Strings{"gone.ini", "sub/old.ini", "x1", "x2"}));
  EXPECT_EQ(plan.blocked_deletes, 0);
  EXPECT_EQ(plan.guard_reason, "");
}

TEST_F(PlanPushTest, ExcludedRemoteKeysNeverDeleted) {
  auto plan = Plan(Tree({Local("keep.ini", 1)}), {{"keep.ini", Listed("k")},
                                                  {"app.log", Listed("l")},
                                                  {"sub/x.log", Listed("l")},
                                                  {"home.db", Listed("d")},
                                                  {"home.db-wal", Listed("w")}});
  EXPECT_TRUE(plan.deletes.empty());
  EXPECT_EQ(plan.blocked_deletes, 0);
}

TEST_F(PlanPushTest, FolderMarkersNeverDeleted) {
  auto plan = Plan(Tree({Local("keep.ini", 1)}),
                   {{"keep.ini", Listed("k")}, {"dir/", Listed("")}, {"a/b/", Listed("")}});
  EXPECT_TRUE(plan.deletes.empty());
}

TEST_F(PlanPushTest, GuardBlocksEverythingWhenRootIsMissing) {
  auto plan = Plan(Tree({}, /*root_exists=*/false),
                   {{"a.ini", Listed("a")}, {"b.ini", Listed("b")}}, Guard("100%"));
  EXPECT_TRUE(plan.deletes.empty());
  EXPECT_EQ(plan.blocked_deletes, 2);
  EXPECT_FALSE(plan.guard_reason.empty());
}

TEST_F(PlanPushTest, GuardBlocksEverythingWhenRootHoldsNoFile) {
  auto plan = Plan(Tree({}), {{"a.ini", Listed("a")}}, Guard("1000"));
  EXPECT_TRUE(plan.deletes.empty());
  EXPECT_EQ(plan.blocked_deletes, 1);
  EXPECT_FALSE(plan.guard_reason.empty());
}

// 11 stored objects: the 50% rule applies (more than 10).
RemoteIndex Eleven() {
  RemoteIndex r;
  for (int i = 0; i < 11; ++i) r.emplace("f" + std::to_string(10 + i), Listed("x"));
  return r;
}

TEST_F(PlanPushTest, DefaultPercentBlocksSixOfEleven) {
  std::vector<LocalFile> files;
  files.reserve(5);
  for (int i = 0; i < 5; ++i) files.push_back(Local("f" + std::to_string(10 + i), 1));
  auto plan = Plan(Tree(files), Eleven());
  EXPECT_TRUE(plan.deletes.empty());
  EXPECT_EQ(plan.blocked_deletes, 6);
  EXPECT_NE(plan.guard_reason.find("--max-delete"), std::string::npos) << plan.guard_reason;
}

TEST_F(PlanPushTest, DefaultPercentAllowsFiveOfEleven) {
  std::vector<LocalFile> files;
  files.reserve(6);
  for (int i = 0; i < 6; ++i) files.push_back(Local("f" + std::to_string(10 + i), 1));
  auto plan = Plan(Tree(files), Eleven());
  EXPECT_EQ(plan.deletes.size(), 5u);
  EXPECT_EQ(plan.blocked_deletes, 0);
  EXPECT_EQ(plan.guard_reason, "");
}

TEST_F(PlanPushTest, PercentRuleDoesNotApplyToTenObjects) {
  RemoteIndex r;
  for (int i = 0; i < 10; ++i) r.emplace("old" + std::to_string(i), Listed("x"));
  auto plan = Plan(Tree({Local("new.ini", 1)}), r);
  EXPECT_EQ(plan.deletes.size(), 10u);
  EXPECT_EQ(plan.uploads, Strings{"new.ini"});
  EXPECT_EQ(plan.blocked_deletes, 0);
}

TEST_F(PlanPushTest, CountGuard) {
  RemoteIndex r;
  for (int i = 0; i < 5; ++i) r.emplace("k" + std::to_string(i), Listed("x"));
  r.emplace("keep", Listed("x"));
  LocalTree local = Tree({Local("keep", 1), Local("k0", 1)});  // 4 deletions
  auto blocked = Plan(local, r, Guard("3"));
  EXPECT_TRUE(blocked.deletes.empty());
  EXPECT_EQ(blocked.blocked_deletes, 4);
  EXPECT_NE(blocked.guard_reason.find('3'), std::string::npos) << blocked.guard_reason;
  auto allowed = Plan(local, r, Guard("4"));
  EXPECT_EQ(allowed.deletes, (Strings{"k1", "k2", "k3", "k4"}));
  EXPECT_EQ(allowed.blocked_deletes, 0);
}

TEST_F(PlanPushTest, ZeroCountBlocksAnyDeletion) {
  auto plan =
      Plan(Tree({Local("keep", 1)}), {{"keep", Listed("x")}, {"gone", Listed("y")}}, Guard("0"));
  EXPECT_TRUE(plan.deletes.empty());
  EXPECT_EQ(plan.blocked_deletes, 1);
}

TEST_F(PlanPushTest, BlockedDeletesDoNotStopUploads) {
  auto plan = Plan(Tree({Local("new.ini", 2)}), {{"gone", Listed("y")}}, Guard("0"));
  EXPECT_EQ(plan.uploads, Strings{"new.ini"});
  EXPECT_EQ(plan.blocked_deletes, 1);
}

TEST(IndexFromListingTest, CopiesEveryField) {
  ObjectInfo a{"a.ini", 3, Md5Hex("abc"), ToWall(kT2), std::nullopt};
  FileMeta m;
  m.mode = 0100600;
  ObjectInfo b{"b.ini", 1, "etag-1", ToWall(kT3), m};
  RemoteIndex idx = IndexFromListing({a, b});
  ASSERT_EQ(idx.size(), 2u);
  EXPECT_EQ(idx["a.ini"].size, 3u);
  EXPECT_EQ(idx["a.ini"].etag, Md5Hex("abc"));
  EXPECT_EQ(idx["a.ini"].modified, ToWall(kT2));
  EXPECT_FALSE(idx["a.ini"].meta.has_value());
  EXPECT_EQ(idx["b.ini"].meta, m);
}

TEST(ParseDeleteGuardTest, Count) {
  auto g = ParseDeleteGuard("25");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->max_count, 25);
  EXPECT_FALSE(g->max_percent.has_value());
}

TEST(ParseDeleteGuardTest, Percent) {
  auto g = ParseDeleteGuard("50%");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->max_percent, 50.0);
  EXPECT_FALSE(g->max_count.has_value());
  EXPECT_EQ(g->percent_min_objects, 10);
  EXPECT_EQ(ParseDeleteGuard("12.5%")->max_percent, 12.5);
  EXPECT_EQ(ParseDeleteGuard("100%")->max_percent, 100.0);
  EXPECT_EQ(ParseDeleteGuard("0%")->max_percent, 0.0);
}

TEST(ParseDeleteGuardTest, Zero) {
  auto g = ParseDeleteGuard("0");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->max_count, 0);
}

TEST(ParseDeleteGuardTest, BadValuesAreConfigErrorsNamingTheFlag) {
  for (const char* bad : {"x", "-1", "150%", "1.5", "", "%", "25x", "-5%", " 5", "5 ", "inf", "nan",
                          "inf%", "50%%", "1e400"}) {
    auto g = ParseDeleteGuard(bad);
    ASSERT_FALSE(g) << "\"" << bad << "\"";
    EXPECT_EQ(g.error().kind, ErrorKind::kConfig) << bad;
    EXPECT_NE(g.error().message.find("--max-delete"), std::string::npos) << g.error().message;
  }
}

TEST(ParseDeleteGuardTest, CountsAboveOneBillionAreRefused) {
  EXPECT_EQ(ParseDeleteGuard("1000000000")->max_count, 1'000'000'000);
  for (const char* big : {"1000000001", "1e30", "9223372036854775808", "1e300"}) {
    auto g = ParseDeleteGuard(big);
    ASSERT_FALSE(g) << big;
    EXPECT_NE(g.error().message.find("0 to 1000000000"), std::string::npos) << g.error().message;
  }
}

TEST(DeleteGuardVerdictTest, NoDeletionsAlwaysAllowed) {
  EXPECT_EQ(DeleteGuardVerdict(Guard("0"), 0, 100, /*local_empty=*/true), "");
}

TEST(DeleteGuardVerdictTest, EmptyLocalBlocksAnyDeletion) {
  EXPECT_NE(DeleteGuardVerdict(Guard("100%"), 1, 100, true), "");
  EXPECT_NE(DeleteGuardVerdict(Guard("1000"), 1, 1, true), "");
  EXPECT_NE(DeleteGuardVerdict(DeleteGuard{}, 1, 1, true), "");
}

TEST(DeleteGuardVerdictTest, CountLimit) {
  EXPECT_EQ(DeleteGuardVerdict(Guard("25"), 25, 1000, false), "");
  EXPECT_NE(DeleteGuardVerdict(Guard("25"), 26, 1000, false), "");
  EXPECT_NE(DeleteGuardVerdict(Guard("25"), 26, 1000, false).find("25"), std::string::npos);
}

TEST(DeleteGuardVerdictTest, PercentLimitAboveMinimumObjects) {
  DeleteGuard g = Guard("50%");
  EXPECT_EQ(DeleteGuardVerdict(g, 10, 20, false), "");  // exactly 50%
  EXPECT_NE(DeleteGuardVerdict(g, 11, 20, false), "");  // 55%
  EXPECT_EQ(DeleteGuardVerdict(g, 10, 10, false), "");  // 10 objects: rule not applied
  EXPECT_NE(DeleteGuardVerdict(g, 11, 11, false), "");  // 11 objects: applied
  EXPECT_EQ(DeleteGuardVerdict(g, 500, 1000, false), "");
  EXPECT_NE(DeleteGuardVerdict(g, 501, 1000, false), "");
}

TEST(DeleteGuardVerdictTest, ZeroPercentBlocksAboveMinimum) {
  DeleteGuard g = Guard("0%");
  EXPECT_NE(DeleteGuardVerdict(g, 1, 11, false), "");
  EXPECT_EQ(DeleteGuardVerdict(g, 1, 10, false), "");
}

TEST(DeleteGuardVerdictTest, NoLimitsAllowWhenLocalHasFiles) {
  EXPECT_EQ(DeleteGuardVerdict(DeleteGuard{}, 1000, 1000, false), "");
}

TEST(SameAttributesTest, ComparesMtimeModeOwnerButNotMd5) {
  FileMeta a;
  a.mtime = kT1;
  a.mode = 0100640;
  a.uid = 1;
  a.gid = 2;
  FileMeta b = a;
  b.md5_hex = "d41d8cd98f00b204e9800998ecf8427e";
  EXPECT_TRUE(SameAttributes(a, b));
  FileMeta c = a;
  c.mode = 0100644;
  EXPECT_FALSE(SameAttributes(a, c));
  c = a;
  c.mtime = FileTime{kT1.sec, 1};
  EXPECT_FALSE(SameAttributes(a, c));
  c = a;
  c.uid = 3;
  EXPECT_FALSE(SameAttributes(a, c));
  c = a;
  c.gid.reset();
  EXPECT_FALSE(SameAttributes(a, c));
}

}  // namespace
}  // namespace cfgsync

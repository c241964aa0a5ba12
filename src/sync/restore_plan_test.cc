#include "sync/restore_plan.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/hash.h"

namespace cfgsync {
namespace {

std::string Md5Hex(const std::string& s) { return HexEncode(Md5(s)); }

const FileTime kOld{1600000000, 0};
const FileTime kMid{1700000000, 500};
const FileTime kNew{1800000000, 0};

LocalFile Local(std::string rel, std::uint64_t size, FileTime mtime) {
  LocalFile f;
  f.rel = std::move(rel);
  f.version.size = size;
  f.version.mtime = mtime;
  f.version.ctime = mtime;
  f.version.ino = 42;
  f.meta.mtime = mtime;
  f.meta.mode = 0100644;
  f.meta.uid = 0;
  f.meta.gid = 0;
  return f;
}

LocalTree Tree(std::vector<LocalFile> files) {
  LocalTree t;
  t.root_exists = true;
  t.files = std::move(files);
  std::sort(t.files.begin(), t.files.end(), [](auto& a, auto& b) { return a.rel < b.rel; });
  return t;
}

// An object as a listing reports it (no stored attributes), stored at `modified`.
ObjectInfo Listed(std::string key, std::uint64_t size, std::string etag, FileTime modified = kMid) {
  ObjectInfo o;
  o.key = std::move(key);
  o.size = size;
  o.etag = std::move(etag);
  o.modified = ToWall(modified);
  return o;
}

// An object with its stored attributes known (after a Stat, or from the local remote's listing).
ObjectInfo WithMeta(std::string key, const std::string& content, std::optional<FileTime> mtime) {
  ObjectInfo o = Listed(std::move(key), content.size(), Md5Hex(content));
  FileMeta m;
  m.mtime = mtime;
  m.mode = 0100640;
  m.md5_hex = Md5Hex(content);
  o.meta = m;
  return o;
}

// A fake md5_of: answers from a map (nullopt for unknown paths) and records every call.
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

Filter Defaults() {
  auto f = Filter::Build(FilterOptions{});
  EXPECT_TRUE(f.has_value());
  return *std::move(f);
}

// The single step of a one-object plan.
RestoreStep Only(const RestorePlan& plan) {
  EXPECT_EQ(plan.steps.size(), 1u);
  return plan.steps.empty() ? RestoreStep{RestoreAction::kReject, 999, "", "no step"}
                            : plan.steps.front();
}

class PlanRestoreTest : public ::testing::Test {
 protected:
  RestorePlan Plan(const std::vector<ObjectInfo>& remote, const LocalTree& local,
                   ConflictPolicy policy = ConflictPolicy::kNewer) {
    return PlanRestore(remote, local, filter_, policy, md5_.Fn());
  }

  Filter filter_ = Defaults();
  FakeMd5 md5_;
};

TEST_F(PlanRestoreTest, AbsentLocallyIsDownloaded) {
  auto plan =
      Plan({Listed("app.ini", 5, Md5Hex("hello")), Listed("sub/b.yaml", 1, Md5Hex("b"))}, Tree({}));
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].action, RestoreAction::kDownload);
  EXPECT_EQ(plan.steps[0].index, 0u);
  EXPECT_EQ(plan.steps[0].rel, "app.ini");
  EXPECT_EQ(plan.steps[1].action, RestoreAction::kDownload);
  EXPECT_EQ(plan.steps[1].index, 1u);
  EXPECT_EQ(plan.steps[1].rel, "sub/b.yaml");
  EXPECT_EQ(plan.excluded, 0);
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanRestoreTest, EmptyListingIsEmptyPlan) {
  auto plan = Plan({}, Tree({Local("a.ini", 1, kOld)}));
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.excluded, 0);
}

TEST_F(PlanRestoreTest, OtherLocalFilesDoNotMatter) {
  auto plan = Plan({Listed("a.ini", 3, Md5Hex("abc"))}, Tree({Local("b.ini", 3, kOld)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kDownload);
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanRestoreTest, SameSizeAndMtimeIsIdenticalWithoutHashing) {
  auto plan = Plan({WithMeta("a.ini", "hello", kMid)}, Tree({Local("a.ini", 5, kMid)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kSkipIdentical);
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanRestoreTest, MtimeComparedToTheNanosecond) {
  md5_.md5["a.ini"] = Md5Hex("HELLO");
  FileTime local_time{kMid.sec, kMid.nsec + 1};
  auto plan = Plan({WithMeta("a.ini", "hello", kMid)}, Tree({Local("a.ini", 5, local_time)}));
  // Not identical by time, so the content decides: it differs, and the local copy is newer.
  EXPECT_EQ(md5_.calls, std::vector<std::string>{"a.ini"});
  EXPECT_EQ(Only(plan).action, RestoreAction::kKeepLocal);
}

TEST_F(PlanRestoreTest, SameMd5AsEtagIsIdentical) {
  md5_.md5["a.ini"] = Md5Hex("hello");
  auto plan = Plan({Listed("a.ini", 5, Md5Hex("hello"))}, Tree({Local("a.ini", 5, kNew)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kSkipIdentical);
  EXPECT_EQ(md5_.calls, std::vector<std::string>{"a.ini"});
}

TEST_F(PlanRestoreTest, SameMd5AsMd5ChksumIsIdenticalDespiteMultipartEtag) {
  md5_.md5["big.bin"] = Md5Hex("content");
  ObjectInfo o = Listed("big.bin", 7, "0123456789abcdef0123456789abcdef-3");
  FileMeta m;
  m.mtime = kOld;
  m.md5_hex = Md5Hex("content");
  o.meta = m;
  auto plan = Plan({o}, Tree({Local("big.bin", 7, kNew)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kSkipIdentical);
}

TEST_F(PlanRestoreTest, SizeDiffersNeverHashes) {
  md5_.md5["a.ini"] = Md5Hex("hello");
  auto plan = Plan({WithMeta("a.ini", "hello", kNew)}, Tree({Local("a.ini", 6, kOld)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kDownload);
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanRestoreTest, SameMtimeButSizeDiffersIsNotIdentical) {
  auto plan = Plan({WithMeta("a.ini", "hello", kMid)}, Tree({Local("a.ini", 4, kMid)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kDownload);
}

TEST_F(PlanRestoreTest, MultipartEtagWithoutMetaNeedsStat) {
  md5_.md5["big.bin"] = Md5Hex("whatever");
  auto plan = Plan({Listed("big.bin", 8, "0123456789abcdef0123456789abcdef-3")},
                   Tree({Local("big.bin", 8, kOld)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kNeedStat);
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanRestoreTest, MultipartEtagNeedsStatEvenUnderRemoteOrLocalPolicy) {
  for (ConflictPolicy p : {ConflictPolicy::kRemote, ConflictPolicy::kLocal}) {
    auto plan = Plan({Listed("big.bin", 8, "abc-2")}, Tree({Local("big.bin", 8, kOld)}), p);
    EXPECT_EQ(Only(plan).action, RestoreAction::kNeedStat);
  }
}

TEST_F(PlanRestoreTest, DifferentContentWithoutMetaUnderNewerNeedsStat) {
  md5_.md5["a.ini"] = Md5Hex("world");
  auto plan = Plan({Listed("a.ini", 5, Md5Hex("hello"))}, Tree({Local("a.ini", 5, kOld)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kNeedStat);  // the stored mtime decides
}

TEST_F(PlanRestoreTest, DifferentSizeWithoutMetaUnderNewerNeedsStat) {
  auto plan = Plan({Listed("a.ini", 5, Md5Hex("hello"))}, Tree({Local("a.ini", 9, kOld)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kNeedStat);
}

TEST_F(PlanRestoreTest, NewerPolicyKeepsNewerLocalCopy) {
  md5_.md5["a.ini"] = Md5Hex("local");
  auto plan = Plan({WithMeta("a.ini", "remot", kOld)}, Tree({Local("a.ini", 5, kNew)}));
  RestoreStep s = Only(plan);
  EXPECT_EQ(s.action, RestoreAction::kKeepLocal);
  EXPECT_FALSE(s.reason.empty());
}

TEST_F(PlanRestoreTest, NewerPolicyDownloadsNewerBackup) {
  md5_.md5["a.ini"] = Md5Hex("local");
  auto plan = Plan({WithMeta("a.ini", "remote!", kNew)}, Tree({Local("a.ini", 5, kOld)}));
  RestoreStep s = Only(plan);
  EXPECT_EQ(s.action, RestoreAction::kDownload);
  EXPECT_EQ(s.rel, "a.ini");
  EXPECT_FALSE(s.reason.empty());
}

TEST_F(PlanRestoreTest, NewerPolicyUsesLastModifiedWhenNoMtimeWasStored) {
  ObjectInfo o = WithMeta("a.ini", "remote!", std::nullopt);
  o.modified = ToWall(kMid);
  auto keep = Plan({o}, Tree({Local("a.ini", 3, kNew)}));
  EXPECT_EQ(Only(keep).action, RestoreAction::kKeepLocal);
  auto take = Plan({o}, Tree({Local("a.ini", 3, kOld)}));
  EXPECT_EQ(Only(take).action, RestoreAction::kDownload);
}

TEST_F(PlanRestoreTest, RemotePolicyAlwaysTakesTheBackup) {
  md5_.md5["a.ini"] = Md5Hex("local");
  auto plan =
      Plan({WithMeta("a.ini", "remot", kOld), Listed("b.ini", 5, Md5Hex("bbbbb"))},
           Tree({Local("a.ini", 5, kNew), Local("b.ini", 2, kNew)}), ConflictPolicy::kRemote);
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].action, RestoreAction::kDownload);
  EXPECT_EQ(plan.steps[1].action, RestoreAction::kDownload);
}

TEST_F(PlanRestoreTest, RemotePolicyStillSkipsIdentical) {
  md5_.md5["a.ini"] = Md5Hex("same!");
  auto plan = Plan({Listed("a.ini", 5, Md5Hex("same!"))}, Tree({Local("a.ini", 5, kNew)}),
                   ConflictPolicy::kRemote);
  EXPECT_EQ(Only(plan).action, RestoreAction::kSkipIdentical);
}

TEST_F(PlanRestoreTest, LocalPolicyNeverTouchesAnExistingFile) {
  md5_.md5["a.ini"] = Md5Hex("local");
  auto plan =
      Plan({WithMeta("a.ini", "remote!", kNew), Listed("b.ini", 5, Md5Hex("bbbbb")),
            Listed("c.ini", 1, Md5Hex("c"))},
           Tree({Local("a.ini", 5, kOld), Local("b.ini", 2, kOld)}), ConflictPolicy::kLocal);
  ASSERT_EQ(plan.steps.size(), 3u);
  EXPECT_EQ(plan.steps[0].action, RestoreAction::kKeepLocal);
  EXPECT_FALSE(plan.steps[0].reason.empty());
  EXPECT_EQ(plan.steps[1].action, RestoreAction::kKeepLocal);
  EXPECT_EQ(plan.steps[2].action, RestoreAction::kDownload);  // absent: still restored
}

TEST_F(PlanRestoreTest, UnreadableLocalFileIsNotIdentical) {
  // md5_of answers nullopt for a.ini.
  auto plan = Plan({Listed("a.ini", 5, Md5Hex("hello"))}, Tree({Local("a.ini", 5, kOld)}),
                   ConflictPolicy::kRemote);
  EXPECT_EQ(Only(plan).action, RestoreAction::kDownload);
  EXPECT_EQ(md5_.calls, std::vector<std::string>{"a.ini"});
}

TEST_F(PlanRestoreTest, FolderMarkerMakesTheFolder) {
  auto plan = Plan({Listed("dir/", 0, Md5Hex("")), Listed("a/b/", 0, Md5Hex(""))}, Tree({}));
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].action, RestoreAction::kMakeDir);
  EXPECT_EQ(plan.steps[0].rel, "dir");
  EXPECT_EQ(plan.steps[1].action, RestoreAction::kMakeDir);
  EXPECT_EQ(plan.steps[1].rel, "a/b");
}

TEST_F(PlanRestoreTest, FolderMarkerWithContentRejected) {
  auto plan = Plan({Listed("dir/", 5, Md5Hex("hello"))}, Tree({}));
  RestoreStep s = Only(plan);
  EXPECT_EQ(s.action, RestoreAction::kReject);
  EXPECT_FALSE(s.reason.empty());
}

TEST_F(PlanRestoreTest, MarkerForTheRootItselfIsIgnored) {
  auto plan = Plan({Listed("/", 0, Md5Hex(""))}, Tree({}));
  EXPECT_TRUE(plan.steps.empty());
}

TEST_F(PlanRestoreTest, HostileFolderMarkersRejected) {
  auto plan =
      Plan({Listed("../", 0, ""), Listed("a/../../", 0, ""), Listed("/etc/", 0, "")}, Tree({}));
  ASSERT_EQ(plan.steps.size(), 3u);
  for (const auto& s : plan.steps) EXPECT_EQ(s.action, RestoreAction::kReject) << s.rel;
}

TEST_F(PlanRestoreTest, HostileKeysRejected) {
  // Listing keys are relative to the backup root: "app//etc/x" under prefix "app" is "/etc/x".
  std::vector<std::string> keys = {"../x",  "a/../../x", "/etc/x", "a//b", "a\nb.ini",
                                   "a/./b", ".",         "..",     "",     std::string("n\0l", 3),
                                   "tab\t", "esc\x1b"};
  std::vector<ObjectInfo> remote;
  remote.reserve(std::size(keys));
  for (const auto& k : keys) remote.push_back(Listed(k, 1, Md5Hex("x")));
  auto plan = Plan(remote, Tree({}));
  ASSERT_EQ(plan.steps.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(plan.steps[i].action, RestoreAction::kReject) << "key " << i;
    EXPECT_EQ(plan.steps[i].index, i);
    EXPECT_FALSE(plan.steps[i].reason.empty()) << "key " << i;
  }
  EXPECT_EQ(plan.excluded, 0);
}

TEST_F(PlanRestoreTest, HostileKeyNeverMatchesALocalFile) {
  // Even when a local file has the same (normalised) name, the key is rejected, not compared.
  auto plan = Plan({Listed("a//b", 1, Md5Hex("x"))}, Tree({Local("a/b", 1, kOld)}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kReject);
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanRestoreTest, UnicodeAndSpacesAreOrdinaryKeys) {
  auto plan = Plan({Listed("café/my file.ini", 1, Md5Hex("x"))}, Tree({}));
  EXPECT_EQ(Only(plan).action, RestoreAction::kDownload);
}

TEST_F(PlanRestoreTest, ExcludedKeysCountedAndSkipped) {
  auto plan = Plan({Listed("x.log", 1, Md5Hex("x")), Listed("home.db-wal", 1, Md5Hex("x")),
                    Listed("sub/app.log", 1, Md5Hex("x")), Listed("home.db", 1, Md5Hex("x")),
                    Listed("keep.yaml", 1, Md5Hex("x"))},
                   Tree({}));
  EXPECT_EQ(plan.excluded, 4);
  RestoreStep s = Only(plan);
  EXPECT_EQ(s.rel, "keep.yaml");
  EXPECT_EQ(s.index, 4u);
}

TEST_F(PlanRestoreTest, ExcludedFolderMarkerCounted) {
  FilterOptions opts;
  opts.excludes = {"cache/"};
  auto filter = Filter::Build(opts);
  ASSERT_TRUE(filter);
  auto plan = PlanRestore({Listed("cache/", 0, ""), Listed("cache/x.ini", 1, Md5Hex("x"))},
                          Tree({}), *filter, ConflictPolicy::kNewer, md5_.Fn());
  EXPECT_EQ(plan.excluded, 2);
  EXPECT_TRUE(plan.steps.empty());
}

TEST_F(PlanRestoreTest, ExcludedExistingFileNeverHashed) {
  auto plan = Plan({Listed("x.log", 3, Md5Hex("abc"))}, Tree({Local("x.log", 3, kOld)}));
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.excluded, 1);
  EXPECT_TRUE(md5_.calls.empty());
}

TEST_F(PlanRestoreTest, MixedListingKeepsListingOrderAndIndexes) {
  md5_.md5["same.ini"] = Md5Hex("same");
  auto plan = Plan({Listed("../evil", 1, ""), Listed("dir/", 0, ""), Listed("new.ini", 1, ""),
                    Listed("same.ini", 4, Md5Hex("same")), Listed("z.log", 1, "")},
                   Tree({Local("same.ini", 4, kOld)}));
  ASSERT_EQ(plan.steps.size(), 4u);
  EXPECT_EQ(plan.steps[0].action, RestoreAction::kReject);
  EXPECT_EQ(plan.steps[0].index, 0u);
  EXPECT_EQ(plan.steps[1].action, RestoreAction::kMakeDir);
  EXPECT_EQ(plan.steps[1].index, 1u);
  EXPECT_EQ(plan.steps[2].action, RestoreAction::kDownload);
  EXPECT_EQ(plan.steps[2].index, 2u);
  EXPECT_EQ(plan.steps[3].action, RestoreAction::kSkipIdentical);
  EXPECT_EQ(plan.steps[3].index, 3u);
  EXPECT_EQ(plan.excluded, 1);
}

RestorePlan PlanOf(std::vector<std::pair<RestoreAction, std::string>> steps) {
  RestorePlan plan;
  for (std::size_t i = 0; i < steps.size(); ++i)
    plan.steps.push_back({steps[i].first, i, steps[i].second, ""});
  return plan;
}

std::vector<std::string> Rels(const std::vector<const RestoreStep*>& order) {
  std::vector<std::string> out;
  out.reserve(order.size());
  for (const auto* s : order) out.push_back(s->rel);
  return out;
}

TEST(WorkOrderTest, DealsStepsOutFolderByFolderInKeyOrderWithinEach) {
  auto D = RestoreAction::kDownload;
  RestorePlan plan = PlanOf({{D, "a/1"},
                             {D, "a/2"},
                             {D, "a/3"},
                             {D, "b/1"},
                             {D, "root1"},
                             {D, "b/c/1"},
                             {D, "b/2"},
                             {D, "root2"}});
  EXPECT_EQ(Rels(WorkOrder(plan)), (std::vector<std::string>{"a/1", "b/1", "root1", "b/c/1", "a/2",
                                                             "b/2", "root2", "a/3"}));
}

TEST(WorkOrderTest, OneBigFolderAmongManySmallOnesKeepsEveryStepOnce) {
  std::vector<std::pair<RestoreAction, std::string>> steps;
  steps.reserve(20000 + 20000);
  for (int i = 0; i < 20000; ++i)
    steps.emplace_back(RestoreAction::kDownload, "big/" + std::to_string(i));
  for (int i = 0; i < 20000; ++i)
    steps.emplace_back(RestoreAction::kDownload, "small" + std::to_string(i) + "/f");
  RestorePlan plan = PlanOf(steps);
  auto order = WorkOrder(plan);
  ASSERT_EQ(order.size(), plan.steps.size());
  EXPECT_EQ(order[0]->rel, "big/0");
  EXPECT_EQ(order[1]->rel, "small0/f");
  EXPECT_EQ(order[20001]->rel, "big/1");  // second round: only the big folder is left
  EXPECT_EQ(order.back()->rel, "big/19999");
}

TEST(WorkOrderTest, KeepsOnlyStepsThatWriteAndEachExactlyOnce) {
  RestorePlan plan = PlanOf({{RestoreAction::kSkipIdentical, "a/x"},
                             {RestoreAction::kMakeDir, "a/empty"},
                             {RestoreAction::kDownload, "a/y"},
                             {RestoreAction::kReject, "../z"},
                             {RestoreAction::kKeepLocal, "b/k"},
                             {RestoreAction::kNeedStat, "b/s"},
                             {RestoreAction::kDownload, "b/d"}});
  auto order = WorkOrder(plan);
  EXPECT_EQ(Rels(order), (std::vector<std::string>{"a/empty", "b/d", "a/y"}));
  for (const auto* s : order) EXPECT_EQ(s, &plan.steps[s->index]);
  EXPECT_TRUE(WorkOrder(RestorePlan{}).empty());
}

TEST(ParseConflictPolicyTest, KnownValues) {
  EXPECT_EQ(ParseConflictPolicy("newer"), ConflictPolicy::kNewer);
  EXPECT_EQ(ParseConflictPolicy("remote"), ConflictPolicy::kRemote);
  EXPECT_EQ(ParseConflictPolicy("local"), ConflictPolicy::kLocal);
}

TEST(ParseConflictPolicyTest, OthersAreConfigErrorsNamingTheFlag) {
  for (const char* bad : {"", "Newer", "REMOTE", "both", "newer ", "older"}) {
    auto r = ParseConflictPolicy(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig) << bad;
    EXPECT_NE(r.error().message.find("--on-conflict"), std::string::npos) << r.error().message;
  }
}

TEST(ActionNameTest, StableNames) {
  EXPECT_EQ(ActionName(RestoreAction::kDownload), "download");
  EXPECT_EQ(ActionName(RestoreAction::kMakeDir), "mkdir");
  EXPECT_EQ(ActionName(RestoreAction::kSkipIdentical), "skip-identical");
  EXPECT_EQ(ActionName(RestoreAction::kKeepLocal), "keep-local");
  EXPECT_EQ(ActionName(RestoreAction::kReject), "reject");
  EXPECT_EQ(ActionName(RestoreAction::kNeedStat), "need-stat");
}

TEST(SplitParentTest, FolderAndName) {
  using P = std::pair<std::string_view, std::string_view>;
  EXPECT_EQ(SplitParent("a/b/c.ini"), (P{"a/b", "c.ini"}));
  EXPECT_EQ(SplitParent("c.ini"), (P{"", "c.ini"}));
  EXPECT_EQ(SplitParent("a/"), (P{"a", ""}));
}

}  // namespace
}  // namespace cfgsync

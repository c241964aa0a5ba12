#include "sync/push_plan_merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/hash.h"
#include "support/files.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

using Strings = std::vector<std::string>;

std::string Md5Hex(const std::string& s) { return HexEncode(Md5(s)); }

ObjectInfo Object(const std::string& key, const std::string& content) {
  return ObjectInfo{key, content.size(), Md5Hex(content), ToWall(FileTime{1700000000, 0}), {}};
}

class PlanMergeTest : public ::testing::Test {
 protected:
  void Write(const std::string& rel, const std::string& content) {
    testing::WriteFile(tmp_.path() / rel, content);
  }

  // Merges `listing`, cut into pages of `page_size`, with the folder; the index is kept.
  PushPlan Merge(const std::vector<ObjectInfo>& listing, std::size_t page_size,
                 const DeleteGuard& guard = DeleteGuard{}) {
    TreeStream local(tmp_.path(), filter_);
    EXPECT_TRUE(local.Start());
    PlanMerge merge(local, &index_, mu_, filter_, Md5(), std::numeric_limits<std::size_t>::max(),
                    &written_);
    for (std::size_t i = 0; i < listing.size(); i += page_size) {
      std::vector<ObjectInfo> page(
          listing.begin() + static_cast<std::ptrdiff_t>(i),
          listing.begin() + static_cast<std::ptrdiff_t>(std::min(listing.size(), i + page_size)));
      EXPECT_TRUE(merge.Page(std::move(page)));
    }
    auto plan = merge.Finish(guard);
    EXPECT_TRUE(plan);
    return plan ? *plan : PushPlan{};
  }

  // PlanPush over a full scan and a full index: what the merge must equal.
  PushPlan Reference(const std::vector<ObjectInfo>& listing,
                     const DeleteGuard& guard = DeleteGuard{}) {
    auto tree = ScanTree(tmp_.path(), filter_);
    EXPECT_TRUE(tree);
    return PlanPush(*tree, IndexFromListing(listing), filter_, guard, Md5());
  }

  Md5Of Md5() {
    return [this](const LocalFile& f) { return LocalMd5(tmp_.path(), f); };
  }

  Strings Keys() {
    Strings keys;
    for (const auto& [k, e] : index_) keys.push_back(k);
    return keys;
  }

  testing::TempDir tmp_{"cfgsync-merge"};
  Filter filter_ = *Filter::Build(FilterOptions{});
  StoredIndex index_;
  std::mutex mu_;
  KeySet written_;  // keys pushes wrote while the listing was read
};

void ExpectSame(const PushPlan& a, const PushPlan& b) {
  EXPECT_EQ(a.uploads, b.uploads);
  EXPECT_EQ(a.verify, b.verify);
  EXPECT_EQ(a.deletes, b.deletes);
  EXPECT_EQ(a.identical, b.identical);
  EXPECT_EQ(a.blocked_deletes, b.blocked_deletes);
  EXPECT_EQ(a.guard_reason, b.guard_reason);
}

TEST_F(PlanMergeTest, UploadsChangesAndDeletesLikePlanPush) {
  Write("a.ini", "same");
  Write("b/c.ini", "changed");
  Write("b/new.ini", "new");
  Write("z.ini", "last");
  const std::vector<ObjectInfo> listing = {Object("a.ini", "same"), Object("b/c.ini", "before"),
                                           Object("b/gone.ini", "x"), Object("z.ini", "last")};
  const PushPlan plan = Merge(listing, 2);
  EXPECT_EQ(plan.uploads, (Strings{"b/c.ini", "b/new.ini"}));
  EXPECT_EQ(plan.deletes, (Strings{"b/gone.ini"}));
  ExpectSame(plan, Reference(listing));
  EXPECT_EQ(Keys(), (Strings{"a.ini", "b/c.ini", "b/gone.ini", "z.ini"}));
}

TEST_F(PlanMergeTest, GuardBlocksLikePlanPush) {
  Write("keep.ini", "k");
  std::vector<ObjectInfo> listing;
  listing.reserve(21);
  for (int i = 0; i < 20; ++i) listing.push_back(Object("f" + std::to_string(10 + i), "x"));
  listing.push_back(Object("keep.ini", "k"));
  const PushPlan plan = Merge(listing, 7, *ParseDeleteGuard("50%"));
  EXPECT_EQ(plan.blocked_deletes, 20);
  EXPECT_TRUE(plan.deletes.empty());
  ExpectSame(plan, Reference(listing, *ParseDeleteGuard("50%")));
}

// The same verdicts as PlanPush on random trees and listings, whatever the page size.
TEST_F(PlanMergeTest, RandomTreesMatchPlanPush) {
  std::mt19937 rng(7);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on failure
  const Strings names = {"a-b", "a.c", "a/x", "a/y/z", "a0", "b/c-d", "b/c/d", "b/c.e", "c"};
  for (int round = 0; round < 20; ++round) {
    std::filesystem::remove_all(tmp_.path());
    std::filesystem::create_directories(tmp_.path());
    std::vector<ObjectInfo> listing;
    for (const auto& n : names) {
      const int pick = static_cast<int>(rng() % 4);  // local only, remote only, same, differ
      if (pick != 1) Write(n, n);
      if (pick == 1 || pick == 2) listing.push_back(Object(n, n));
      if (pick == 3 && rng() % 2) listing.push_back(Object(n, n + "!"));
    }
    std::sort(listing.begin(), listing.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    ExpectSame(Merge(listing, 1 + rng() % 4), Reference(listing));
  }
}

// What we stored ourselves (attributes, MD5) survives a listing that does not carry it, as long
// as the object is the same one; the rest of the index is what was listed.
TEST_F(PlanMergeTest, IndexKeepsOurAttributesAndDropsUnlisted) {
  Write("a.ini", "a");
  RemoteEntry ours{1, Md5Hex("a"), ToWall(FileTime{1700000000, 0}), FileMeta{}};
  ours.meta->md5_hex = Md5Hex("a");
  ours.meta->mode = 0100600;
  index_["a.ini"] = ours;
  index_["b.ini"] = ours;
  index_["old.ini"] = ours;
  RemoteEntry other = ours;
  other.etag = Md5Hex("c");
  index_["c.ini"] = other;
  Merge({Object("a.ini", "a"), Object("c.ini", "x")}, 1);
  EXPECT_EQ(Keys(), (Strings{"a.ini", "c.ini"}));
  EXPECT_EQ(index_.at("a.ini").Expand().meta, ours.meta);
  EXPECT_FALSE(index_.at("c.ini").HasMeta());
}

// A push that stored or deleted a key after the listing began left the index newer than the
// listing: the merge neither overwrites nor drops that entry, nor brings back a deleted one.
TEST_F(PlanMergeTest, KeysWrittenWhileListingKeepTheirNewerEntries) {
  Write("a.ini", "new content");
  Write("fresh.ini", "pushed during the listing");
  for (const char* rel : {"a.ini", "fresh.ini"}) {
    const ObjectInfo o = Object(rel, testing::ReadFile(tmp_.path() / rel));
    index_[rel] = RemoteEntry{o.size, o.etag, o.modified, o.meta};
  }
  written_ = {"a.ini", "fresh.ini", "gone.ini"};
  const std::vector<ObjectInfo> listing = {Object("a.ini", "old"), Object("gone.ini", "x")};
  const PushPlan plan = Merge(listing, 1);
  EXPECT_EQ(Keys(), (Strings{"a.ini", "fresh.ini"}));
  EXPECT_TRUE(index_.at("a.ini").EtagIs(Md5Hex("new content")));
  EXPECT_EQ(plan.verify, (Strings{"a.ini"}));       // same content as the push stored: no upload
  EXPECT_EQ(plan.uploads, (Strings{"fresh.ini"}));  // not listed: planned as new, as before
  EXPECT_EQ(plan.deletes, (Strings{"gone.ini"}));   // still listed: deleting again is harmless
}

TEST_F(PlanMergeTest, EmptyListingEmptiesIndexAndUploadsAll) {
  Write("a.ini", "a");
  index_["x"] = RemoteEntry{};
  const PushPlan plan = Merge({}, 1);
  EXPECT_EQ(plan.uploads, (Strings{"a.ini"}));
  EXPECT_TRUE(index_.empty());
}

TEST_F(PlanMergeTest, NamesAtMostTheCap) {
  Write("keep", "k");
  TreeStream local(tmp_.path(), filter_);
  ASSERT_TRUE(local.Start());
  PlanMerge merge(local, nullptr, mu_, filter_, Md5(), 2);
  std::vector<ObjectInfo> page;
  for (const char* k : {"d1", "d2", "d3", "keep"}) page.push_back(Object(k, "k"));
  ASSERT_TRUE(merge.Page(std::move(page)));
  auto plan = merge.Finish(DeleteGuard{});
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->deletes, (Strings{"d1", "d2"}));
  EXPECT_EQ(plan->unnamed_deletes, 1);
  EXPECT_EQ(plan->verify, (Strings{"keep"}));  // same content, attributes unknown
  EXPECT_TRUE(index_.empty());
}

}  // namespace
}  // namespace cfgsync

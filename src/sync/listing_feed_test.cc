#include "sync/listing_feed.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/fault_remote.h"
#include "support/mem_remote.h"
#include "support/remote_files.h"

namespace cfgsync {
namespace {

std::vector<std::string> Keys(const std::vector<ObjectInfo>& page) {
  std::vector<std::string> out;
  out.reserve(page.size());
  for (const auto& o : page) out.push_back(o.key);
  return out;
}

TEST(ListingFeedTest, DeliversPagesInKeyOrderThenEnds) {
  MemRemote mem;
  for (const char* k : {"c", "a", "e", "b", "d"}) mem.Seed(k, "x");
  mem.SetPageSize(2);
  ListingFeed feed(mem, "");
  std::vector<std::vector<std::string>> pages;
  while (auto p = feed.Next()) pages.push_back(Keys(*p));
  EXPECT_EQ(pages, (std::vector<std::vector<std::string>>{{"a", "b"}, {"c", "d"}, {"e"}}));
  EXPECT_TRUE(feed.Result());
  EXPECT_EQ(feed.PagesDelivered(), 3u);
}

TEST(ListingFeedTest, EmptyListingIsOneEmptyPage) {
  MemRemote mem;
  ListingFeed feed(mem, "");
  auto p = feed.Next();
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->empty());
  EXPECT_FALSE(feed.Next());
  EXPECT_TRUE(feed.Result());
}

TEST(ListingFeedTest, ErrorBeforeAnyPageIsTheResult) {
  MemRemote mem;
  mem.SetBucketMissing(true);
  ListingFeed feed(mem, "");
  EXPECT_FALSE(feed.Next());
  ASSERT_FALSE(feed.Result());
  EXPECT_EQ(feed.Result().error().kind, ErrorKind::kNoSuchBucket);
  EXPECT_EQ(feed.PagesDelivered(), 0u);
}

TEST(ListingFeedTest, ReadsAheadAtMostDepthPages) {
  MemRemote mem;
  for (int i = 0; i < 10; ++i) mem.Seed("k" + std::to_string(i), "x");
  mem.SetPageSize(1);
  ListingFeed feed(mem, "", 2);
  auto first = feed.Next();
  ASSERT_TRUE(first);
  /* The producer may now hold two pages queued and be blocked on the third; it can never have
   * listed more than delivered + depth + 1 pages. */
  for (int spin = 0; spin < 100 && mem.Calls(RemoteOp::kList) < 4; ++spin) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_LE(mem.Calls(RemoteOp::kList), 4);
}

TEST(ListingFeedTest, DestroyingMidListingStopsTheProducer) {
  MemRemote mem;
  for (int i = 0; i < 100; ++i) mem.Seed("k" + std::to_string(i), "x");
  mem.SetPageSize(1);
  {
    ListingFeed feed(mem, "");
    ASSERT_TRUE(feed.Next());
  }  // must not hang
  EXPECT_LT(mem.Calls(RemoteOp::kList), 100);
}

}  // namespace
}  // namespace cfgsync

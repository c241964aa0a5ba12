#include "s3/versions.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace cfgsync::s3 {
namespace {

WallTime At(int seconds) { return WallTime{} + std::chrono::seconds(seconds); }

VersionEntry Entry(std::string key, std::string id, int seconds, bool latest = false,
                   bool marker = false) {
  return VersionEntry{std::move(key),   std::move(id),       latest, marker, At(seconds),
                      marker ? 0u : 3u, marker ? "" : "etag"};
}

std::vector<std::string> Ids(const std::vector<ObjectVersion>& versions) {
  std::vector<std::string> ids;
  ids.reserve(versions.size());
  for (const auto& v : versions) ids.push_back(v.key + "@" + v.version_id);
  return ids;
}

TEST(VersionsOfPageTest, InterleavesMotosDeleteMarkersByKeyThenNewestFirst) {
  // moto's order: every <Version> first, then every <DeleteMarker>.
  std::vector<VersionEntry> page = {Entry("root/a", "a3", 30, true), Entry("root/a", "a1", 10),
                                    Entry("root/b", "b1", 15, true),
                                    Entry("root/a", "dm", 20, false, true)};
  auto versions = VersionsOfPage(page, "root/");
  EXPECT_EQ(Ids(versions), (std::vector<std::string>{"a@a3", "a@dm", "a@a1", "b@b1"}));
  EXPECT_TRUE(versions[1].delete_marker);
  EXPECT_EQ(versions[1].size, 0u);
  EXPECT_TRUE(versions[0].is_latest);
  EXPECT_EQ(versions[0].etag, "etag");
  EXPECT_EQ(versions[0].modified, At(30));
}

TEST(VersionsOfPageTest, TiesPutTheLatestFirstAndKeepThePageOrder) {
  // Two Puts and a Remove within one second of moto's one-second LastModified.
  std::vector<VersionEntry> page = {Entry("k", "v2", 5), Entry("k", "v1", 5),
                                    Entry("k", "dm", 5, true, true)};
  EXPECT_EQ(Ids(VersionsOfPage(page, "")), (std::vector<std::string>{"k@dm", "k@v2", "k@v1"}));
}

TEST(VersionsOfPageTest, DropsKeysOutsideTheRoot) {
  std::vector<VersionEntry> page = {Entry("rootless", "x", 1), Entry("root/in", "y", 1, true)};
  EXPECT_EQ(Ids(VersionsOfPage(page, "root/")), (std::vector<std::string>{"in@y"}));
}

TEST(CheckServedVersionTest, TheVersionAskedIsServed) {
  EXPECT_TRUE(CheckServedVersion("get a", "v1", "v1"));
  EXPECT_TRUE(CheckServedVersion("get a", "null", ""));
  EXPECT_TRUE(CheckServedVersion("get a", "null", "null"));
}

TEST(CheckServedVersionTest, AServerIgnoringTheVersionIsUnsupported) {
  auto ignored = CheckServedVersion("get a", "v1", "");
  ASSERT_FALSE(ignored);
  EXPECT_EQ(ignored.error().kind, ErrorKind::kUnsupported);
  EXPECT_NE(ignored.error().message.find("get a"), std::string::npos) << ignored.error().message;
  auto other = CheckServedVersion("get a", "v1", "v2");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::kProtocol);
}

}  // namespace
}  // namespace cfgsync::s3

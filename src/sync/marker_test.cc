#include "sync/marker.h"

#include <gtest/gtest.h>

#include "core/fs.h"
#include "support/files.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

TEST(MarkerTest, WrittenThenReadBack) {
  testing::TempDir tmp("cfgsync-marker");
  EXPECT_EQ(ReadMarker(tmp.path()), std::nullopt);
  ASSERT_TRUE(WriteMarker(tmp.path(), "http://s3 s3:backups/app"));
  EXPECT_EQ(ReadMarker(tmp.path()), "http://s3 s3:backups/app");
  ASSERT_TRUE(WriteMarker(tmp.path(), "other"));
  EXPECT_EQ(ReadMarker(tmp.path()), "other");
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    EXPECT_FALSE(IsTempName(e.path().filename().string())) << e.path();
  }
}

TEST(MarkerTest, GarbageIsNoMarker) {
  testing::TempDir tmp("cfgsync-marker");
  testing::WriteFile(tmp.path() / std::string(kMarkerName), "not json");
  EXPECT_EQ(ReadMarker(tmp.path()), std::nullopt);
  testing::WriteFile(tmp.path() / std::string(kMarkerName), R"({"remote": 3})");
  EXPECT_EQ(ReadMarker(tmp.path()), std::nullopt);
}

TEST(MarkerTest, IsAnInternalName) {
  EXPECT_TRUE(IsInternalName(kMarkerName));
  EXPECT_FALSE(IsInternalName("marker"));
}

}  // namespace
}  // namespace cfgsync

#include "core/file_meta.h"

#include <gtest/gtest.h>

namespace cfgsync {
namespace {

TEST(FileMetaTest, ToWallKeepsNanoseconds) {
  const WallTime t = ToWall(FileTime{1'709'618'828, 123'456'789});
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(),
            1'709'618'828'123'456'789);
}

TEST(FileMetaTest, MetaFromStatTakesTheStoredFields) {
  struct stat st {};
  st.st_mtim.tv_sec = 42;
  st.st_mtim.tv_nsec = 7;
  st.st_mode = S_IFREG | 0640;
  st.st_uid = 1000;
  st.st_gid = 100;
  const FileMeta m = MetaFromStat(st);
  EXPECT_EQ(m.mtime, (FileTime{42, 7}));
  EXPECT_EQ(m.mode, S_IFREG | 0640u);
  EXPECT_EQ(m.uid, 1000u);
  EXPECT_EQ(m.gid, 100u);
  EXPECT_FALSE(m.md5_hex);
}

}  // namespace
}  // namespace cfgsync

#include "sync/restore_meta.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace cfgsync {
namespace {

FileMeta WithMode(std::uint32_t mode, std::uint32_t uid = 1000, std::uint32_t gid = 1000) {
  FileMeta m;
  m.mtime = FileTime{1709618828, 5};
  m.mode = mode;
  m.uid = uid;
  m.gid = gid;
  return m;
}

TEST(SanitizeForRestoreTest, OrdinaryAttributesPassUnchanged) {
  for (std::uint32_t mode : {0100640u, 0100755u, 0100000u, 0644u}) {
    SafeMeta s = SanitizeForRestore(WithMode(mode), false);
    EXPECT_EQ(s.meta, WithMode(mode)) << std::oct << mode;
    EXPECT_TRUE(s.dropped.empty()) << std::oct << mode;
  }
  SafeMeta none = SanitizeForRestore(FileMeta{}, false);
  EXPECT_EQ(none.meta, FileMeta{});
  EXPECT_TRUE(none.dropped.empty());
}

TEST(SanitizeForRestoreTest, SetuidSetgidAndStickyBitsAreCleared) {
  SafeMeta s = SanitizeForRestore(WithMode(0107777), false);
  EXPECT_EQ(s.meta.mode, 0100777u);
  ASSERT_EQ(s.dropped.size(), 3u);
  EXPECT_EQ(s.dropped[0], "mode 107777: set-user-ID bit cleared");
  EXPECT_EQ(s.dropped[1], "mode 107777: set-group-ID bit cleared");
  EXPECT_EQ(s.dropped[2], "mode 107777: sticky bit cleared");
  EXPECT_EQ(SanitizeForRestore(WithMode(02750), false).meta.mode, 0750u);
}

TEST(SanitizeForRestoreTest, SpecialFileTypesBecomeRegularFiles) {
  for (std::uint32_t type : {S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, S_IFDIR, S_IFLNK}) {
    SafeMeta s = SanitizeForRestore(WithMode(type | 0644), false);
    EXPECT_EQ(s.meta.mode, 0100644u) << std::oct << type;
    ASSERT_EQ(s.dropped.size(), 1u) << std::oct << type;
    EXPECT_NE(s.dropped[0].find("restored as a regular file"), std::string::npos);
  }
  SafeMeta dev = SanitizeForRestore(WithMode(S_IFCHR | 04666), false);
  EXPECT_EQ(dev.meta.mode, 0100666u);
  EXPECT_EQ(dev.dropped.size(), 2u);
}

TEST(SanitizeForRestoreTest, RootOwnerIsLeftOutUnlessAllowed) {
  SafeMeta s = SanitizeForRestore(WithMode(0100644, 0, 0), false);
  EXPECT_EQ(s.meta.uid, std::nullopt);
  EXPECT_EQ(s.meta.gid, std::nullopt);
  EXPECT_EQ(s.meta.mode, 0100644u);
  ASSERT_EQ(s.dropped.size(), 2u);
  EXPECT_NE(s.dropped[0].find("uid 0"), std::string::npos);
  EXPECT_NE(s.dropped[1].find("gid 0"), std::string::npos);

  SafeMeta group_only = SanitizeForRestore(WithMode(0100644, 1000, 0), false);
  EXPECT_EQ(group_only.meta.uid, 1000u);
  EXPECT_EQ(group_only.meta.gid, std::nullopt);

  SafeMeta allowed = SanitizeForRestore(WithMode(0104755, 0, 0), true);
  EXPECT_EQ(allowed.meta.uid, 0u);
  EXPECT_EQ(allowed.meta.gid, 0u);
  EXPECT_EQ(allowed.meta.mode, 0100755u);  // the flag is about owners, never about setuid
}

}  // namespace
}  // namespace cfgsync

#include "sync/push_plan_index.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/hash.h"

namespace cfgsync {
namespace {

RemoteEntry Full() {
  FileMeta m;
  m.mtime = FileTime{1700000000, 123456789};
  m.mode = 0100640;
  m.uid = 1000;
  m.gid = 1001;
  m.md5_hex = HexEncode(Md5("abc"));
  return RemoteEntry{3, HexEncode(Md5("abc")),
                     WallTime(std::chrono::duration_cast<WallTime::duration>(
                         std::chrono::nanoseconds(1700000100123456789))),
                     m};
}

TEST(StoredEntryTest, ExpandsToWhatWasStored) {
  const RemoteEntry e = Full();
  const StoredEntry s(e);
  const RemoteEntry back = s.Expand();
  EXPECT_EQ(back.size, e.size);
  EXPECT_EQ(back.etag, e.etag);
  EXPECT_EQ(back.modified, e.modified);
  EXPECT_EQ(back.meta, e.meta);
  EXPECT_TRUE(s.HasMeta());
  EXPECT_EQ(s.size(), 3u);
}

TEST(StoredEntryTest, KeepsAbsentFieldsAbsent) {
  RemoteEntry e = Full();
  e.meta->mode.reset();
  e.meta->uid.reset();
  e.meta->md5_hex.reset();
  EXPECT_EQ(StoredEntry(e).Expand().meta, e.meta);
  e.meta.reset();
  const StoredEntry s(e);
  EXPECT_FALSE(s.HasMeta());
  EXPECT_FALSE(s.Expand().meta);
}

// Etags and MD5s that are no lower-case MD5 hex come back byte for byte: a multipart etag, an
// upper-case one (which must never compare equal to a computed digest), a malformed MD5.
TEST(StoredEntryTest, KeepsOddTextExactly) {
  for (const std::string odd :
       {"0123456789abcdef0123456789abcdef-2", "0123456789ABCDEF0123456789ABCDEF", "", "not-hex"}) {
    RemoteEntry e = Full();
    e.etag = odd;
    e.meta->md5_hex = odd;
    const StoredEntry s(e);
    EXPECT_EQ(s.Expand().etag, odd);
    EXPECT_EQ(s.Expand().meta->md5_hex, odd);
    EXPECT_TRUE(s.EtagIs(odd));
    EXPECT_FALSE(s.EtagIs(HexEncode(Md5("abc"))));
  }
}

TEST(StoredEntryTest, EtagIsComparesBytes) {
  const StoredEntry s(Full());
  EXPECT_TRUE(s.EtagIs(HexEncode(Md5("abc"))));
  EXPECT_FALSE(s.EtagIs(HexEncode(Md5("abd"))));
  std::string upper = HexEncode(Md5("abc"));
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(s.EtagIs(upper));
  EXPECT_FALSE(s.EtagIs(""));
}

TEST(StoredEntryTest, CopiesAreIndependent) {
  RemoteEntry odd = Full();
  odd.etag = "x-1";
  StoredEntry a(odd);
  StoredEntry b(a);
  a = StoredEntry(Full());
  EXPECT_EQ(b.Expand().etag, "x-1");
  EXPECT_EQ(a.Expand().etag, Full().etag);
  b = a;
  EXPECT_EQ(b.Expand().etag, Full().etag);
}

// What the index costs per file stays small: the point of the compact form.
TEST(StoredEntryTest, IsCompact) { EXPECT_LE(sizeof(StoredEntry), 96u); }

TEST(StoredIndexTest, AssignsFromRemoteEntry) {
  StoredIndex index;
  index["a/b.ini"] = Full();
  ASSERT_TRUE(index.contains("a/b.ini"));
  EXPECT_EQ(index.find(std::string_view("a/b.ini"))->second.Expand().meta, Full().meta);
}

}  // namespace
}  // namespace cfgsync

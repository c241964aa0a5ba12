#include "remote/remote.h"

#include <gtest/gtest.h>

namespace cfgsync {
namespace {

constexpr char kMd5[] = "0123456789abcdef0123456789ABCDEF";

TEST(Md5EtagTest, OnlyThirtyTwoHexDigits) {
  EXPECT_TRUE(IsMd5Etag(kMd5));
  EXPECT_FALSE(IsMd5Etag("0123456789abcdef0123456789abcdef-2"));  // multipart
  EXPECT_FALSE(IsMd5Etag("0123456789abcdef0123456789abcdeg"));
  EXPECT_FALSE(IsMd5Etag(""));
}

TEST(StoredMd5Test, TheAttributeFirstThenAnMd5Etag) {
  FileMeta meta;
  meta.md5_hex = "ffffffffffffffffffffffffffffffff";
  EXPECT_EQ(StoredMd5(kMd5, meta), meta.md5_hex);
  EXPECT_EQ(StoredMd5(kMd5, FileMeta{}), kMd5);
  EXPECT_EQ(StoredMd5(kMd5, std::nullopt), kMd5);
  EXPECT_EQ(StoredMd5("abc-3", FileMeta{}), std::nullopt);
  EXPECT_EQ(StoredMd5("abc-3", meta), meta.md5_hex);
  ObjectInfo o{"a.ini", 3, "abc-3", {}, meta};
  EXPECT_EQ(StoredMd5(o), meta.md5_hex);
  o.meta.reset();
  EXPECT_EQ(StoredMd5(o), std::nullopt);
}

}  // namespace
}  // namespace cfgsync

#include "s3/response_headers.h"

#include <gtest/gtest.h>

namespace cfgsync::s3 {
namespace {

using Field = std::pair<std::string, std::string>;

TEST(ParseHeaderLineTest, LowerCasesTheNameAndTrimsTheValue) {
  EXPECT_EQ(ParseHeaderLine("ETag: \"abc\"\r\n"), (Field{"etag", "\"abc\""}));
  EXPECT_EQ(ParseHeaderLine("X-Amz-Meta-Mtime:\t 1709618828.5 \t\r\n"),
            (Field{"x-amz-meta-mtime", "1709618828.5"}));
  EXPECT_EQ(ParseHeaderLine("Empty:\r\n"), (Field{"empty", ""}));
  EXPECT_EQ(ParseHeaderLine("X-\xc3\x89t\xc3\xa9: v\r\n"), (Field{"x-\xc3\x89t\xc3\xa9", "v"}));
}

TEST(ParseHeaderLineTest, StatusLinesAndLinesWithoutColonAreNoField) {
  EXPECT_EQ(ParseHeaderLine("HTTP/1.1 200 OK\r\n"), std::nullopt);
  EXPECT_EQ(ParseHeaderLine("\r\n"), std::nullopt);
  EXPECT_EQ(ParseHeaderLine("garbage\r\n"), std::nullopt);
}

TEST(ObjectInfoFromHeadersTest, ReadsSizeEtagDateAndMetadata) {
  HeaderList h = {{"content-length", "434234"},
                  {"etag", "\"fba9dede5f27731c9771645a39863328\""},
                  {"last-modified", "Mon, 12 Oct 2009 17:50:00 GMT"},
                  {"x-amz-meta-mtime", "1709618828.5"},
                  {"x-amz-meta-mode", "100640"}};
  auto info = ObjectInfoFromHeaders("a.ini", h);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->key, "a.ini");
  EXPECT_EQ(info->size, 434234u);
  EXPECT_EQ(info->etag, "fba9dede5f27731c9771645a39863328");
  EXPECT_EQ(info->modified, std::chrono::system_clock::from_time_t(1255369800));
  ASSERT_TRUE(info->meta);
  EXPECT_EQ(info->meta->mtime, (FileTime{1709618828, 500'000'000}));
  EXPECT_EQ(info->meta->mode, 0100640u);
  EXPECT_EQ(info->meta->md5_hex, "fba9dede5f27731c9771645a39863328");
}

TEST(ObjectInfoFromHeadersTest, ContentLengthMustBeADecimalOf64Bits) {
  EXPECT_EQ(ObjectInfoFromHeaders("k", {{"content-length", "18446744073709551615"}})->size,
            UINT64_MAX);
  EXPECT_EQ(ObjectInfoFromHeaders("k", {{"content-length", "007"}})->size, 7u);
  EXPECT_EQ(ObjectInfoFromHeaders("k", {})->size, 0u);
  for (const char* bad :
       {"18446744073709551616", "99999999999999999999", "-1", "+5", "12abc", "0x10", "1 2", " "}) {
    auto info = ObjectInfoFromHeaders("k", {{"content-length", bad}});
    ASSERT_FALSE(info) << bad;
    EXPECT_EQ(info.error().kind, ErrorKind::kProtocol);
    EXPECT_NE(info.error().message.find("Content-Length"), std::string::npos);
  }
}

TEST(ObjectInfoFromHeadersTest, DatesWallTimeCannotHoldAreTheEpoch) {
  auto info = ObjectInfoFromHeaders("k", {{"last-modified", "Fri, 31 Dec 9999 23:59:59 GMT"}});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->modified, WallTime{});
}

}  // namespace
}  // namespace cfgsync::s3

#include "core/text.h"

#include <gtest/gtest.h>

#include <string>

namespace cfgsync {
namespace {

TEST(PrintableTest, EscapesControlBytesOnly) {
  EXPECT_EQ(Printable("a.ini"), "a.ini");
  EXPECT_EQ(Printable(std::string("a\nb\x1b[2J\x7f\0", 9)), "a\\x0ab\\x1b[2J\\x7f\\x00");
  EXPECT_EQ(Printable("caf\xc3\xa9 \xff"), "caf\xc3\xa9 \xff");  // UTF-8 and high bytes kept
  EXPECT_EQ(Printable(""), "");
}

TEST(QuotedTest, QuotesThePrintableForm) {
  EXPECT_EQ(Quoted("a b"), "\"a b\"");
  EXPECT_EQ(Quoted("x\ty"), "\"x\\x09y\"");
  EXPECT_EQ(Quoted(""), "\"\"");
}

TEST(AsciiCaseTest, FoldsAsciiLettersOnly) {
  EXPECT_EQ(AsciiLower("Content-MD5 X-Amz-Meta-Mtime"), "content-md5 x-amz-meta-mtime");
  EXPECT_EQ(AsciiUpper("s3-endpoint_1"), "S3-ENDPOINT_1");
  EXPECT_EQ(AsciiLower("\xc3\x89T\xc3\x89"), "\xc3\x89t\xc3\x89");  // 'É' is not ASCII
  EXPECT_EQ(AsciiUpper("@[`{"), "@[`{");  // the neighbours of the letter ranges
  EXPECT_EQ(AsciiLower("@[`{"), "@[`{");
}

TEST(AsciiCaseTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_FALSE(EqualsIgnoreCase("true", "tru"));
  EXPECT_FALSE(EqualsIgnoreCase("a", "b"));
  EXPECT_FALSE(EqualsIgnoreCase("@", "`"));  // 0x40 and 0x60 differ by the case bit only
}

}  // namespace
}  // namespace cfgsync

#include "remote/key.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace cfgsync {
namespace {

// True when CheckSafeKey refuses `key` with kInvalidArgument.
::testing::AssertionResult Refused(std::string_view key, bool allow_control = false) {
  auto r = CheckSafeKey(key, allow_control);
  if (r) return ::testing::AssertionFailure() << "accepted";
  if (r.error().kind != ErrorKind::kInvalidArgument) {
    return ::testing::AssertionFailure() << "wrong kind: " << KindName(r.error().kind);
  }
  return ::testing::AssertionSuccess();
}

// The message of the refusal of `key` ("" when accepted).
std::string Why(std::string_view key, bool allow_control = false) {
  auto r = CheckSafeKey(key, allow_control);
  return r ? "" : r.error().message;
}

TEST(CheckSafeKeyTest, PlainRelativeKeysAccepted) {
  for (const char* key : {"a", "a.ini", "conf/app.yaml", "a/b/c/d/e.txt", ".hidden", "dir/.env",
                          "...", "..a", "a..", ".a.", "a/.../b"}) {
    EXPECT_TRUE(CheckSafeKey(key, false).has_value()) << key;
    EXPECT_TRUE(CheckSafeKey(key, true).has_value()) << key;
  }
}

TEST(CheckSafeKeyTest, EmptyRefused) {
  EXPECT_TRUE(Refused(""));
  EXPECT_TRUE(Refused("", true));
  EXPECT_NE(Why("").find("empty"), std::string::npos) << Why("");
}

TEST(CheckSafeKeyTest, ParentSegmentsRefused) {
  for (const char* key : {"..", "../x", "a/../../x", "a/..", "a/../b", "../../etc/passwd"}) {
    EXPECT_TRUE(Refused(key)) << key;
    EXPECT_TRUE(Refused(key, true)) << key;
  }
  EXPECT_NE(Why("a/../../x").find(".."), std::string::npos);
}

TEST(CheckSafeKeyTest, DotSegmentsRefused) {
  for (const char* key : {".", "./x", "a/./b", "a/."}) {
    EXPECT_TRUE(Refused(key)) << key;
  }
}

TEST(CheckSafeKeyTest, AbsolutePathRefused) {
  EXPECT_TRUE(Refused("/etc/x"));
  EXPECT_TRUE(Refused("/"));
  EXPECT_TRUE(Refused("//etc/x"));
  EXPECT_NE(Why("/etc/x").find("absolute"), std::string::npos) << Why("/etc/x");
}

TEST(CheckSafeKeyTest, EmptySegmentsRefused) {
  for (const char* key : {"a//b", "a/", "a/b/", "a///b", "dir//"}) {
    EXPECT_TRUE(Refused(key)) << key;
    EXPECT_TRUE(Refused(key, true)) << key;
  }
  EXPECT_NE(Why("a//b").find("empty"), std::string::npos) << Why("a//b");
}

TEST(CheckSafeKeyTest, NulRefusedEvenWhenControlAllowed) {
  std::string key("a\0b", 3);
  EXPECT_TRUE(Refused(key));
  EXPECT_TRUE(Refused(key, true));
  EXPECT_NE(Why(key, true).find("NUL"), std::string::npos) << Why(key, true);
  EXPECT_TRUE(Refused(std::string_view("\0", 1), true));
}

TEST(CheckSafeKeyTest, ControlBytesDependOnAllowControl) {
  for (const std::string& key :
       {std::string("a\nb"), std::string("x\n"), std::string("tab\there"), std::string("cr\r"),
        std::string("esc\x1b[31m"), std::string("del\x7f"), std::string("\x01")}) {
    EXPECT_TRUE(Refused(key, false)) << key;
    EXPECT_TRUE(CheckSafeKey(key, true).has_value()) << key;
  }
  EXPECT_NE(Why("a\nb").find("control"), std::string::npos) << Why("a\nb");
}

TEST(CheckSafeKeyTest, ControlBytesDoNotExcuseOtherFaults) {
  EXPECT_TRUE(Refused("../a\nb", true));
  EXPECT_TRUE(Refused("a\n//b", true));
}

TEST(CheckSafeKeyTest, MessageShowsControlBytesEscaped) {
  std::string msg = Why("evil\nname");
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("\\x0a"), std::string::npos) << msg;
  EXPECT_NE(msg.find("evil"), std::string::npos) << msg;
}

TEST(CheckSafeKeyTest, UnicodeAccepted) {
  for (const char* key : {"café/naïve.ini", "日本語/設定.yaml", "emoji-😀.txt", "Ωmega"}) {
    EXPECT_TRUE(CheckSafeKey(key, false).has_value()) << key;
  }
}

TEST(CheckSafeKeyTest, HighBytesThatAreNotUtf8Accepted) {
  // Keys are byte-exact; invalid UTF-8 is not a path hazard.
  EXPECT_TRUE(CheckSafeKey("bad\xff\xfe.bin", false).has_value());
  EXPECT_TRUE(CheckSafeKey("\x80", false).has_value());
}

TEST(CheckSafeKeyTest, PunctuationAndSpacesAccepted) {
  for (const char* key :
       {"my file.ini", " leading", "trailing ", "a b/c d", "a:b", "a*b?c", "#hash", "100%", "a\\b",
        "~user", "-dash", "a;b", "(x)[y]{z}", "quote\"s'", "a=b&c", "a/b c/ d "}) {
    EXPECT_TRUE(CheckSafeKey(key, false).has_value()) << key;
  }
}

TEST(JoinKeyTest, EmptyPrefixReturnsKey) {
  EXPECT_EQ(JoinKey("", "a/b.ini"), "a/b.ini");
  EXPECT_EQ(JoinKey("", ""), "");
}

TEST(JoinKeyTest, JoinsWithOneSlash) {
  EXPECT_EQ(JoinKey("app", "x.ini"), "app/x.ini");
  EXPECT_EQ(JoinKey("app/config", "sub/x.ini"), "app/config/sub/x.ini");
}

TEST(JoinKeyTest, BytesKeptExactly) {
  std::string key("we\nird \xff", 8);
  EXPECT_EQ(JoinKey("p", key), "p/" + key);
}

}  // namespace
}  // namespace cfgsync

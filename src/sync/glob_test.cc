#include "sync/glob.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "support/random_glob.h"

namespace cfgsync {
namespace {

using testing::MakeGlob;
using testing::MakePath;
using testing::OracleMatches;
using testing::RandomGlob;

struct MatchCase {
  const char* pattern;
  const char* path;
  bool matches;
};

void ExpectMatches(const std::vector<MatchCase>& cases) {
  for (const MatchCase& c : cases) {
    SCOPED_TRACE(std::string("pattern \"") + c.pattern + "\" path \"" + c.path + "\"");
    auto glob = Glob::Compile(c.pattern);
    ASSERT_TRUE(glob.has_value()) << glob.error().message;
    EXPECT_EQ(glob->Matches(c.path), c.matches);
  }
}

TEST(GlobSyntaxTest, Star) {
  ExpectMatches({
      {"*.log", "x.log", true},
      {"*.log", "a/b/x.log", true},
      {"*.log", ".log", true},  // '*' may match nothing
      {"*.log", "x.log.1", false},
      {"*.log", "x.logx", false},
      {"*.log", "x.log/y", false},
      {"a*c", "abc", true},
      {"a*c", "ac", true},
      {"a*c", "a/c", false},  // '*' never crosses '/'
      {"a*c", "ab/bc", false},
      {"*", "anything", true},
      {"*", "a/b/c", true},
      {"x*", "a/xyz", true},
  });
}

TEST(GlobSyntaxTest, DoubleStar) {
  ExpectMatches({
      {"a/**", "a/b", true},
      {"a/**", "a/b/c", true},
      {"a/**", "x/a/b", true},
      {"a/**", "a", false},
      {"a/**", "ab/c", false},
      {"/a/**", "x/a/b", false},
      {"**.yaml", "b.yaml", true},
      {"**.yaml", "a/b.yaml", true},
      {"a**b", "a/x/b", true},
      {"a**b", "ab", true},
      {"**/x", "a/x", true},
      {"**/x", "x", false},  // as in rclone, the '/' must be there
      {"**", "a/b/c", true},
      {"/**", "a", true},
  });
}

TEST(GlobSyntaxTest, QuestionMark) {
  ExpectMatches({
      {"?.ini", "a.ini", true},
      {"?.ini", "d/a.ini", true},
      {"?.ini", "ab.ini", false},
      {"?.ini", ".ini", false},
      {"a?c", "a/c", false},
      {"caf?", "caf\xc3\xa9", true},  // one UTF-8 character, two bytes
      {"?", "\xc3\xa9", true},
      {"??", "\xc3\xa9", false},
      {"?", "\xe2\x82\xac", true},      // three-byte character
      {"?", "\xf0\x9f\x98\x80", true},  // four-byte character
  });
}

TEST(GlobSyntaxTest, CharacterClasses) {
  ExpectMatches({
      {"[abc].txt", "a.txt", true},
      {"[abc].txt", "d.txt", false},
      {"[a-c]x", "bx", true},
      {"[a-c]x", "dx", false},
      {"[!a-c]x", "dx", true},
      {"[!a-c]x", "ax", false},
      {"[^a-c]x", "dx", true},
      {"[^a-c]x", "bx", false},
      {"a[!b]c", "a/c", false},  // a class never matches '/'
      {"[-a]", "-", true},
      {"[a-]", "-", true},
      {"[a-]", "b", false},
      {"[\\]]", "]", true},
      {"[\\-]", "-", true},
      {"[\\\\]", "\\", true},
      {"[[:digit:]]x", "5x", true},
      {"[[:digit:]]x", "ax", false},
      {"[[:alpha:][:digit:]]", "Q", true},
      {"[[:^alpha:]]", "1", true},
      {"[[:^alpha:]]", "q", false},
      {"[\\d]", "7", true},
      {"[\\D]", "7", false},
      {"[^\\d]", "x", true},
      {"[a-c\\d]", "5", true},
      {"[\xc3\xa9-\xc3\xab]", "\xc3\xaa", true},
      {"[!\xc3\xa9]", "e", true},
      {"[!\xc3\xa9]", "\xc3\xa9", false},
      {"[[]", "[", true},
      {"[a,b]", ",", true},
  });
}

TEST(GlobSyntaxTest, Alternatives) {
  ExpectMatches({
      {"*.{yaml,yml}", "a.yaml", true},
      {"*.{yaml,yml}", "d/a.yml", true},
      {"*.{yaml,yml}", "a.json", false},
      {"{a,b/c}.txt", "b/c.txt", true},
      {"{a,b/c}.txt", "x/a.txt", true},
      {"{a,b/c}.txt", "c.txt", false},
      {"{a,{b,c}d}", "cd", true},  // nested
      {"{a,{b,c}d}", "a", true},
      {"{a,{b,c}d}", "c", false},
      {"x{,y}", "x", true},
      {"x{,y}", "xy", true},
      {"a,b", "a,b", true},  // a ',' outside braces is literal
      {"/{a,b}/**", "b/f", true},
      {"/{a,b}/**", "c/a/f", false},
      {"{*.db,*.sqlite}", "x/y.sqlite", true},
  });
}

TEST(GlobSyntaxTest, Escapes) {
  ExpectMatches({
      {"\\*", "*", true},
      {"\\*", "x", false},
      {"*.\\?\\?\\?", "file.???", true},
      {"*.\\?\\?\\?", "file.abc", false},
      {"\\[x\\]", "[x]", true},
      {"\\[x\\]", "x", false},
      {"\\{a,b\\}", "{a,b}", true},
      {"\\{a,b\\}", "a", false},
      {"*.\\d\\d\\d", "file.012", true},
      {"*.\\d\\d\\d", "file.abc", false},
      {"\\w\\s\\W", "a .", true},
      {"\\S", " ", false},
      {"a\\\\b", "a\\b", true},
      {"\\.x", ".x", true},
  });
}

TEST(GlobSyntaxTest, SpacesBracketsAndUtf8InPaths) {
  ExpectMatches({
      {"My Documents/*.txt", "x/My Documents/a b.txt", true},
      {"*\\[1\\]*", "file [1].txt", true},
      {"*\\[1\\]*", "file 1.txt", false},
      {"*[1]*", "file 1.txt", true},
      {"caf\xc3\xa9/*.yaml", "caf\xc3\xa9/a.yaml", true},
      {"caf\xc3\xa9/*.yaml", "cafe/a.yaml", false},
      {"*.\xc3\xb1", "a/b.\xc3\xb1", true},
      {"\xff*", "\xff.txt", true},  // invalid UTF-8 bytes match themselves
      {"?", "\xff", true},
      {"?", "\xc3", true},  // a truncated sequence is one invalid byte
      {"??", "\xc3\xa9", false},
      {"*.log", "X.LOG", false},  // case-sensitive
  });
}

TEST(GlobAnchoringTest, RootedAndUnrootedPatterns) {
  ExpectMatches({
      {"/a.yaml", "a.yaml", true},
      {"/a.yaml", "x/a.yaml", false},
      {"a.yaml", "x/a.yaml", true},
      {"a.yaml", "xa.yaml", false},
      {"a.yaml", "x/xa.yaml", false},
      {"conf/*.ini", "conf/a.ini", true},
      {"conf/*.ini", "x/conf/a.ini", true},
      {"conf/*.ini", "xconf/a.ini", false},
      {"conf/*.ini", "conf/sub/a.ini", false},
      {"/conf/*.ini", "conf/a.ini", true},
      {"/conf/*.ini", "x/conf/a.ini", false},
      {"/*.jpg", "file.jpg", true},
      {"/*.jpg", "dir/file.jpg", false},
      {"file.jpg", "directory/file.jpg", true},
      {"file.jpg", "afile.jpg", false},
      {"file.jpg", "directory/afile.jpg", false},
      {"dir/**", "subdir/dir/subsubdir/anyfile", true},
      {"dir/**", "subdir/file.png", false},
  });
}

TEST(GlobCompileTest, ErrorsAreTheBareReason) {
  auto bad = Glob::Compile("/a[b");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::kConfig);
  EXPECT_EQ(bad.error().message, "unterminated '['");
}

TEST(GlobDirectoryTest, CouldMatchUnderAndMatchesAllUnder) {
  const Glob anchored = *Glob::Compile("/a/*.ini");
  EXPECT_TRUE(anchored.CouldMatchUnder(""));
  EXPECT_TRUE(anchored.CouldMatchUnder("a/"));
  EXPECT_FALSE(anchored.CouldMatchUnder("b/"));
  EXPECT_FALSE(anchored.CouldMatchUnder("a/b/"));
  EXPECT_TRUE(Glob::Compile("*.ini")->CouldMatchUnder("b/"));  // unanchored: any segment
  const Glob everything_in_a = *Glob::Compile("/a/**");
  EXPECT_TRUE(everything_in_a.MatchesAllUnder("a/"));
  EXPECT_TRUE(everything_in_a.MatchesAllUnder("a/b/"));
  EXPECT_FALSE(everything_in_a.MatchesAllUnder(""));
  EXPECT_FALSE(anchored.MatchesAllUnder("a/"));
}

TEST(GlobValueTest, CopiesShareTheCompiledPattern) {
  const Glob original = *Glob::Compile("*.yaml");
  const Glob copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_TRUE(copy.Matches("x/a.yaml"));
  EXPECT_FALSE(copy.Matches("a.yml"));
}

TEST(GlobRandomTest, MatchingAgreesWithNaiveOracle) {
  std::mt19937 rng(12345);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on failure
  for (int round = 0; round < 3000; ++round) {
    const RandomGlob g = MakeGlob(rng);
    if (g.glob.ends_with('/')) continue;  // directory rules are covered elsewhere
    const auto glob = Glob::Compile(g.glob);
    ASSERT_TRUE(glob.has_value()) << g.glob << ": " << glob.error().message;
    for (int i = 0; i < 40; ++i) {
      const std::string path = MakePath(rng);
      ASSERT_EQ(glob->Matches(path), OracleMatches(g, path))
          << "glob \"" << g.glob << "\" path " << path;
    }
  }
}

}  // namespace
}  // namespace cfgsync

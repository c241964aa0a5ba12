#include "sync/filter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace cfgsync {
namespace {

// A file under the temp directory holding `content`, removed when the object goes away.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string templ = (std::filesystem::temp_directory_path() / "cfgsync-filter-XXXXXX").string();
    const int fd = mkstemp(templ.data());
    EXPECT_GE(fd, 0);
    if (fd >= 0) close(fd);
    path_ = templ;
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

FilterOptions NoDefaults() {
  FilterOptions opts;
  opts.default_excludes = false;
  return opts;
}

// Builds `opts`, failing the test (and returning a filter with no rules) on error.
Filter BuildOrDie(const FilterOptions& opts) {
  auto filter = Filter::Build(opts);
  EXPECT_TRUE(filter.has_value()) << filter.error().message;
  return filter ? *std::move(filter) : *Filter::Build(NoDefaults());
}

// The filter "--exclude PATTERN" without the defaults: a file matching PATTERN is excluded.
Filter ExcludeOnly(const std::string& pattern) {
  FilterOptions opts = NoDefaults();
  opts.excludes = {pattern};
  return BuildOrDie(opts);
}

// The filter read from a --filter-from file holding `content`, without the defaults.
Filter FromFile(const std::string& content, bool default_excludes = false) {
  TempFile file(content);
  FilterOptions opts;
  opts.default_excludes = default_excludes;
  opts.filter_from = file.path();
  return BuildOrDie(opts);
}

struct MatchCase {
  const char* pattern;
  const char* path;
  bool matches;
};

void ExpectMatches(const std::vector<MatchCase>& cases) {
  for (const MatchCase& c : cases) {
    SCOPED_TRACE(std::string("pattern \"") + c.pattern + "\" path \"" + c.path + "\"");
    EXPECT_EQ(ExcludeOnly(c.pattern).IncludesFile(c.path), !c.matches);
  }
}

TEST(FilterSyntaxTest, Star) {
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

TEST(FilterSyntaxTest, DoubleStar) {
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

TEST(FilterSyntaxTest, QuestionMark) {
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

TEST(FilterSyntaxTest, CharacterClasses) {
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

TEST(FilterSyntaxTest, Alternatives) {
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

TEST(FilterSyntaxTest, Escapes) {
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

TEST(FilterSyntaxTest, SpacesBracketsAndUtf8InPaths) {
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

TEST(FilterAnchoringTest, RootedAndUnrootedPatterns) {
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

struct PathCase {
  const char* path;
  bool included;
};

void ExpectIncluded(const Filter& filter, const std::vector<PathCase>& cases) {
  for (const PathCase& c : cases) {
    EXPECT_EQ(filter.IncludesFile(c.path), c.included) << c.path << " with " << filter.Describe();
  }
}

TEST(FilterDirectoryRuleTest, ExcludedDirectoryHidesEverythingBelow) {
  ExpectIncluded(ExcludeOnly("cache/"), {{"cache/a", false},
                                         {"cache/a/b", false},
                                         {"x/cache/a/b", false},
                                         {"cache", true},  // a file named like the directory
                                         {"cachex/a", true},
                                         {"a/xcache/b", true}});
  ExpectIncluded(ExcludeOnly("/cache/"), {{"cache/a", false}, {"x/cache/a", true}});
  ExpectIncluded(ExcludeOnly("/"), {{"a", false}, {"a/b", false}});
}

TEST(FilterDirectoryRuleTest, IncludedDirectoryIncludesNoFileByItself) {
  // rclone: "--include /dir/" matches no files; "+ dir/**" is how to include the contents.
  FilterOptions opts = NoDefaults();
  opts.includes = {"/keep/"};
  ExpectIncluded(BuildOrDie(opts), {{"keep/a", false}, {"keep", false}, {"other", false}});
  ExpectIncluded(FromFile("+ keep/\n- *.txt\n"), {{"keep/a.txt", false}, {"keep/a.md", true}});
  ExpectIncluded(FromFile("+ /keep/**\n- **\n"),
                 {{"keep/a", true}, {"keep/a/b", true}, {"keep", false}, {"other", false}});
}

TEST(FilterOrderTest, FirstMatchWinsWithinAFilterFile) {
  ExpectIncluded(FromFile("+ a.log\n- *.log\n"), {{"a.log", true}, {"b.log", false}});
  ExpectIncluded(FromFile("- *.log\n+ a.log\n"), {{"a.log", false}, {"b.log", false}});
  ExpectIncluded(FromFile("- secret*.jpg\n+ *.jpg\n+ *.png\n+ file2.avi\n- *\n"),
                 {{"file1.jpg", true},
                  {"d/file3.png", true},
                  {"file2.avi", true},
                  {"secret17.jpg", false},
                  {"notes.txt", false}});
}

TEST(FilterOrderTest, IncludesComeBeforeExcludes) {
  // rclone's documented order: --include, then --exclude, then --filter-from.
  FilterOptions opts = NoDefaults();
  opts.includes = {"*.yaml"};
  opts.excludes = {"secrets.yaml", "*.json"};
  ExpectIncluded(BuildOrDie(opts),
                 {{"secrets.yaml", true}, {"a.yaml", true}, {"a.json", false}, {"a.txt", false}});
}

TEST(FilterOrderTest, FlagsComeBeforeTheFilterFile) {
  TempFile file("+ *.tmp\n- a.txt\n+ b.txt\n");
  FilterOptions opts = NoDefaults();
  opts.excludes = {"*.tmp", "b.txt"};
  opts.includes = {"a.txt"};
  opts.filter_from = file.path();
  ExpectIncluded(BuildOrDie(opts), {{"x.tmp", false}, {"a.txt", true}, {"b.txt", false}});
}

TEST(FilterOrderTest, DefaultExcludesComeFirst) {
  FilterOptions opts;
  opts.includes = {"*.db", "*.yaml"};
  ExpectIncluded(BuildOrDie(opts), {{"x.db", false}, {"a.yaml", true}, {"a.txt", false}});
  opts.default_excludes = false;
  ExpectIncluded(BuildOrDie(opts), {{"x.db", true}, {"a.yaml", true}, {"a.txt", false}});
}

TEST(FilterImpliedExcludeTest, IncludeImpliesExcludeEverythingElse) {
  FilterOptions opts = NoDefaults();
  opts.includes = {"*.yaml"};
  ExpectIncluded(BuildOrDie(opts), {{"a.yaml", true}, {"d/a.yaml", true}, {"a.json", false}});
}

TEST(FilterImpliedExcludeTest, PlusRuleInFilterFileDoesNotImplyIt) {
  ExpectIncluded(FromFile("+ *.yaml\n"), {{"a.yaml", true}, {"a.json", true}});
}

TEST(FilterImpliedExcludeTest, ImpliedRuleComesAfterTheFilterFile) {
  TempFile file("+ *.json\n");
  FilterOptions opts = NoDefaults();
  opts.includes = {"*.yaml"};
  opts.filter_from = file.path();
  ExpectIncluded(BuildOrDie(opts), {{"a.yaml", true}, {"a.json", true}, {"a.txt", false}});
}

TEST(FilterImpliedExcludeTest, SurvivesClearInFilterFile) {
  TempFile file("!\n+ *.json\n");
  FilterOptions opts = NoDefaults();
  opts.includes = {"*.yaml"};
  opts.filter_from = file.path();
  ExpectIncluded(BuildOrDie(opts), {{"a.yaml", false}, {"a.json", true}, {"a.txt", false}});
}

TEST(FilterFileTest, CommentsBlankLinesAndWhitespace) {
  const Filter filter = FromFile(
      "# comment\n"
      "; another comment\n"
      "\n"
      "   \t\n"
      "  - *.tmp  \r\n"
      "\t+ keep.bak\r\n"
      "- *.bak\n"
      "-  lead.txt\n"  // the second space belongs to the pattern
      "- # not a comment\n"
      "- last.txt");  // no final newline
  ExpectIncluded(filter, {{"a.tmp", false},
                          {"keep.bak", true},
                          {"x.bak", false},
                          {" lead.txt", false},
                          {"lead.txt", true},
                          {"# not a comment", false},
                          {"last.txt", false},
                          {"# comment", true}});
}

TEST(FilterFileTest, BangClearsEarlierRulesIncludingDefaults) {
  ExpectIncluded(FromFile("- *.txt\n!\n- *.md\n", /*default_excludes=*/true),
                 {{"a.txt", true}, {"a.md", false}, {"x.db", true}, {"x.log", true}});
  ExpectIncluded(FromFile("+ *.jpg\n+ *.gif\n!\n+ 42.doc\n- *\n"),
                 {{"42.doc", true}, {"a.jpg", false}, {"a.gif", false}});
}

TEST(FilterFileTest, EmptyFileKeepsDefaults) {
  ExpectIncluded(FromFile("", /*default_excludes=*/true), {{"x.db", false}, {"a.yaml", true}});
}

struct BadLineCase {
  const char* content;
  const char* message;  // expected suffix after "FILE:"
};

TEST(FilterFileTest, MalformedLinesNameFileAndLine) {
  const std::vector<BadLineCase> cases = {
      {"* foo\n", "1: malformed rule \"* foo\" (want \"+ PATTERN\", \"- PATTERN\" or \"!\")"},
      {"# ok\n\n+foo\n", "3: malformed rule \"+foo\""},
      {"+\n", "1: malformed rule \"+\""},
      {"- \n", "1: malformed rule \"-\""},
      {"+\tfoo\n", "1: malformed rule \"+\\x09foo\""},
      {"!x\n", "1: malformed rule \"!x\""},
      {"foo.txt\n", "1: malformed rule \"foo.txt\""},
      {"- ok\n+ a[b\n", "2: bad pattern \"a[b\": unterminated '['"},
      {"x\x01\n", "1: malformed rule \"x\\x01\""},
  };
  for (const BadLineCase& c : cases) {
    TempFile file(c.content);
    FilterOptions opts;
    opts.filter_from = file.path();
    auto filter = Filter::Build(opts);
    ASSERT_FALSE(filter.has_value()) << c.content;
    EXPECT_EQ(filter.error().kind, ErrorKind::kConfig);
    const std::string& msg = filter.error().message;
    EXPECT_TRUE(msg.starts_with(file.path() + ":" + c.message)) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(FilterFileTest, UnreadableFileIsAConfigError) {
  FilterOptions opts;
  opts.filter_from = "/nonexistent/cfgsync-filters.txt";
  auto missing = Filter::Build(opts);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::kConfig);
  EXPECT_EQ(missing.error().message,
            "--filter-from /nonexistent/cfgsync-filters.txt: cannot open: No such file or "
            "directory");

  opts.filter_from = std::filesystem::temp_directory_path().string();
  auto directory = Filter::Build(opts);
  ASSERT_FALSE(directory.has_value());
  EXPECT_EQ(directory.error().kind, ErrorKind::kConfig);
  EXPECT_EQ(directory.error().message, "--filter-from " + opts.filter_from + ": is a directory");
}

struct BadPatternCase {
  const char* pattern;
  const char* reason;
};

const std::vector<BadPatternCase>& BadPatterns() {
  static const std::vector<BadPatternCase> cases = {
      {"", "empty pattern"},
      {"a[b", "unterminated '['"},
      {"[a-", "unterminated '['"},
      {"[\\", "unterminated '['"},
      {"a]b", "unmatched ']'"},
      {"{a,b", "unterminated '{'"},
      {"{a,{b}", "unterminated '{'"},
      {"a}b", "unmatched '}'"},
      {"***", "more than two consecutive '*'"},
      {"a/***/b", "more than two consecutive '*'"},
      {"[]", "empty character class"},
      {"[!]", "empty character class"},
      {"[z-a]", "character range out of order"},
      {"[a-\\d]", "a class like \\d cannot end a range"},
      {"[[:foo:]]", "unknown class \"[:foo:]\""},
      {"\\q", "unknown escape '\\q'"},
      {"\\1", "unknown escape '\\1'"},
      {"[\\q]", "unknown escape '\\q'"},
      {"x\\", "trailing '\\'"},
      {"{{a.*}}", "\"{{regexp}}\" patterns are not supported"},
      {"*.{{jpe?g}}", "\"{{regexp}}\" patterns are not supported"},
      {"{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}", "too many {} alternatives"},
  };
  return cases;
}

TEST(FilterErrorTest, BadPatternsNameTheFlagAndPattern) {
  for (const BadPatternCase& c : BadPatterns()) {
    for (const bool include : {false, true}) {
      FilterOptions opts;
      (include ? opts.includes : opts.excludes).push_back(c.pattern);
      auto filter = Filter::Build(opts);
      ASSERT_FALSE(filter.has_value()) << c.pattern;
      EXPECT_EQ(filter.error().kind, ErrorKind::kConfig);
      const std::string flag = include ? "--include" : "--exclude";
      EXPECT_EQ(filter.error().message, flag + ": bad pattern \"" + c.pattern + "\": " + c.reason);
    }
  }
}

TEST(FilterErrorTest, ControlBytesAreEscapedInMessages) {
  FilterOptions opts;
  opts.excludes = {"a\nb["};
  auto filter = Filter::Build(opts);
  ASSERT_FALSE(filter.has_value());
  EXPECT_EQ(filter.error().message, "--exclude: bad pattern \"a\\x0ab[\": unterminated '['");
}

TEST(FilterErrorTest, ControlBytesInAClassNameAreEscaped) {
  FilterOptions opts;
  opts.excludes = {"[[:\x1b[2J:]]"};
  auto filter = Filter::Build(opts);
  ASSERT_FALSE(filter.has_value());
  EXPECT_EQ(filter.error().message,
            "--exclude: bad pattern \"[[:\\x1b[2J:]]\": unknown class \"[:\\x1b[2J:]\"");
}

TEST(FilterErrorTest, ManyAlternativesWithinTheLimitAreFine) {
  FilterOptions opts = NoDefaults();
  opts.excludes = {"{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}"};  // 256
  ExpectIncluded(BuildOrDie(opts), {{"abababab", false}, {"abababa", true}});
}

TEST(FilterDefaultsTest, DefaultExcludes) {
  const Filter filter = BuildOrDie(FilterOptions{});
  ExpectIncluded(filter, {
                             {"home-assistant_v2.db", false},
                             {"home-assistant_v2.db-wal", false},
                             {"home-assistant_v2.db-shm", false},
                             {"x.db-shm", false},
                             {"x.db.bak", false},  // "*.db*" matches any ".db" in the name
                             {"a/b/zigbee.db", false},
                             {".db", false},
                             {"home-assistant.log", false},
                             {"logs/sabnzbd.log", false},
                             {"configuration.yaml", true},
                             {"sabnzbd.ini", true},
                             {"packages/a.yaml", true},
                             {"database.yaml", true},  // no ".db" in it
                             {"db/config.yaml", true},
                             {"x.db/config.yaml", true},      // only the last segment is tested
                             {"home-assistant.log.1", true},  // rclone's "*.log" keeps these
                             {"home-assistant.log.fault", true},
                             {"x.DB", true},
                             {".storage/core.config_entries", true},
                         });
  EXPECT_TRUE(filter.MayIncludeDir("x.db"));
  EXPECT_TRUE(filter.MayIncludeDir("logs"));
}

TEST(FilterDefaultsTest, NoDefaultExcludes) {
  ExpectIncluded(BuildOrDie(NoDefaults()),
                 {{"home-assistant_v2.db", true}, {"home-assistant.log", true}, {"a", true}});
}

struct DirCase {
  const char* dir;
  bool may_include;
};

void ExpectDirs(const Filter& filter, const std::vector<DirCase>& cases) {
  for (const DirCase& c : cases) {
    EXPECT_EQ(filter.MayIncludeDir(c.dir), c.may_include)
        << "dir \"" << c.dir << "\" with " << filter.Describe();
  }
}

TEST(FilterMayIncludeDirTest, NoRulesOrPlainExcludes) {
  ExpectDirs(BuildOrDie(NoDefaults()), {{"", true}, {"a", true}, {"a/b", true}});
  ExpectDirs(BuildOrDie(FilterOptions{}), {{"", true}, {"x.db", true}, {"a.log", true}});
  ExpectDirs(ExcludeOnly("*.tmp"), {{"", true}, {"a.tmp", true}});
}

TEST(FilterMayIncludeDirTest, ExcludedDirectories) {
  ExpectDirs(ExcludeOnly("/cache/"), {{"cache", false},
                                      {"cache/sub", false},
                                      {"cache/", false},
                                      {"other", true},
                                      {"x/cache", true},
                                      {"", true},
                                      {"cachex", true}});
  ExpectDirs(
      ExcludeOnly("cache/"),
      {{"cache", false}, {"x/cache", false}, {"x/cache/y", false}, {"x", true}, {"xcache", true}});
  ExpectDirs(ExcludeOnly("/a/**"), {{"a", false}, {"a/b", false}, {"", true}, {"b", true}});
  ExpectDirs(ExcludeOnly("/a/*/**"), {{"a", true}, {"a/b", false}, {"a/b/c", false}});
  ExpectDirs(ExcludeOnly("{tmp,cache}/"), {{"tmp", false}, {"x/cache", false}, {"y", true}});
  ExpectDirs(ExcludeOnly("*"), {{"", false}, {"a/b", false}});
  ExpectDirs(ExcludeOnly("**"), {{"", false}, {"a", false}});
  ExpectDirs(ExcludeOnly("/"), {{"", false}, {"a", false}});
  ExpectDirs(ExcludeOnly("*/**"), {{"", true}, {"a", false}, {"a/b", false}});
  ExpectDirs(ExcludeOnly("/a*/**"), {{"abc", false}, {"b", true}, {"b/abc", true}});
}

TEST(FilterMayIncludeDirTest, AnchoredIncludesPruneOtherDirectories) {
  FilterOptions opts = NoDefaults();
  opts.includes = {"/packages/**", "/conf/*.ini", "/{a,b}/x/*", "/p*q/f"};
  ExpectDirs(BuildOrDie(opts), {{"", true},
                                {"packages", true},
                                {"packages/x/y", true},
                                {"conf", true},
                                {"conf/sub", false},
                                {"a", true},
                                {"a/x", true},
                                {"a/y", false},
                                {"a/x/z", false},
                                {"c", false},
                                {"pack", false},
                                {"pzzq", true},
                                {"pq", true},
                                {"p/q", false},
                                {"other", false}});
}

TEST(FilterMayIncludeDirTest, UnanchoredIncludesKeepEveryDirectory) {
  FilterOptions opts = NoDefaults();
  opts.includes = {"*.yaml", "conf/*.ini"};
  ExpectDirs(BuildOrDie(opts), {{"", true}, {"a", true}, {"a/b/c", true}});
}

TEST(FilterMayIncludeDirTest, RuleOrderMatters) {
  ExpectDirs(FromFile("- /a/\n+ /a/b/**\n"), {{"a", false}, {"a/b", false}, {"b", true}});
  ExpectDirs(FromFile("+ /a/b/**\n- /a/\n- **\n"),
             {{"", true}, {"a", true}, {"a/b", true}, {"a/c", false}, {"b", false}});
  ExpectDirs(FromFile("+ /keep/**\n- *\n"), {{"keep", true}, {"other", false}, {"", true}});
  // A directory-only include rule makes no file includable, so nothing is worth a visit.
  ExpectDirs(FromFile("+ /keep/\n- **\n"), {{"keep", false}, {"", false}});
}

TEST(FilterDescribeTest, OneLineInEvaluationOrder) {
  EXPECT_EQ(BuildOrDie(NoDefaults()).Describe(), "filter: no rules, every file is synced");
  EXPECT_EQ(BuildOrDie(FilterOptions{}).Describe(),
            "filter (first match wins, unmatched files are synced): - *.db* (default), - "
            ".*-litestream/ (default), - *.log (default), - /lost+found/ (default)");
  TempFile file("- cache/\n");
  FilterOptions opts;
  opts.includes = {"*.yaml"};
  opts.excludes = {"secrets.yaml"};
  opts.filter_from = file.path();
  EXPECT_EQ(BuildOrDie(opts).Describe(),
            "filter (first match wins, unmatched files are synced): - *.db* (default), - "
            ".*-litestream/ (default), - *.log (default), - /lost+found/ (default), + *.yaml, - "
            "secrets.yaml, - cache/, - /** (implied by --include)");
}

TEST(FilterDefaultsTest, FitRealVolumes) {
  Filter f = BuildOrDie(FilterOptions{});
  // Litestream's layout beside a database: the database, its WAL and shm, the shadow folder.
  for (const char* rel :
       {"sonarr.db", "sonarr.db-wal", "sonarr.db-shm", ".sonarr.db-litestream/generation",
        ".sonarr.db-litestream/generations/0123456789abcdef/wal/00000000.wal",
        "sub/.app.sqlite-litestream/generation", "lost+found/#1234"}) {
    EXPECT_FALSE(f.IncludesFile(rel)) << rel;
  }
  EXPECT_FALSE(f.MayIncludeDir("lost+found"));
  EXPECT_FALSE(f.MayIncludeDir(".sonarr.db-litestream"));
  for (const char* rel :
       {"config.xml", "sub/lost+found/a.ini", "litestream.yml", "app-litestream/x.yaml"}) {
    EXPECT_TRUE(f.IncludesFile(rel)) << rel;
  }
  EXPECT_TRUE(f.MayIncludeDir("sub/lost+found"));
}

TEST(FilterValueTest, CopiesAndMovesKeepTheRules) {
  FilterOptions opts = NoDefaults();
  opts.excludes = {"*.tmp"};
  const Filter original = BuildOrDie(opts);
  Filter copy = original;
  Filter moved = std::move(copy);
  Filter assigned = BuildOrDie(NoDefaults());
  assigned = moved;
  for (const Filter* f : std::vector<const Filter*>{&original, &moved, &assigned}) {
    EXPECT_FALSE(f->IncludesFile("a.tmp"));
    EXPECT_TRUE(f->IncludesFile("a.txt"));
  }
}

TEST(FilterPerformanceTest, LongPathsStayLinear) {
  std::string deep;
  for (int i = 0; i < 20000; ++i) deep += "a/";
  deep += "end";
  FilterOptions opts = NoDefaults();
  opts.excludes = {"**a**a**a**a**a**b", "*a*a*a*a*a*a*b", "**/a/**/z"};
  const Filter filter = BuildOrDie(opts);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(filter.IncludesFile(deep));
  EXPECT_FALSE(filter.IncludesFile(deep + "b"));
  EXPECT_TRUE(filter.MayIncludeDir(deep));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

// ---- Randomised cross-checks -----------------------------------------------------------------

/* The random tests check the NFA matcher against an independent, deliberately naive oracle:
 * a glob is a list of fragments, each of which says which lengths it can consume at a given
 * position, and the oracle tries every combination by plain backtracking (fine for the short
 * paths used here). */
using Lengths = std::vector<size_t>;

Lengths Lit(std::string_view s, size_t i, std::string_view lit) {
  return s.substr(i).starts_with(lit) ? Lengths{lit.size()} : Lengths{};
}

Lengths AnyRun(std::string_view s, size_t i, bool cross_slash) {
  Lengths out{0};
  for (size_t n = i; n < s.size() && (cross_slash || s[n] != '/'); ++n) out.push_back(n - i + 1);
  return out;
}

Lengths One(std::string_view s, size_t i, bool (*ok)(char)) {
  return i < s.size() && ok(s[i]) ? Lengths{1} : Lengths{};
}

struct Fragment {
  const char* glob;
  Lengths (*consume)(std::string_view s, size_t i);
};

constexpr Fragment kFragments[] = {
    {"a", [](std::string_view s, size_t i) { return Lit(s, i, "a"); }},
    {"b", [](std::string_view s, size_t i) { return Lit(s, i, "b"); }},
    {"x", [](std::string_view s, size_t i) { return Lit(s, i, "x"); }},
    {".", [](std::string_view s, size_t i) { return Lit(s, i, "."); }},
    {"\\.", [](std::string_view s, size_t i) { return Lit(s, i, "."); }},
    {"/", [](std::string_view s, size_t i) { return Lit(s, i, "/"); }},
    {"*", [](std::string_view s, size_t i) { return AnyRun(s, i, false); }},
    {"**", [](std::string_view s, size_t i) { return AnyRun(s, i, true); }},
    {"?", [](std::string_view s, size_t i) { return One(s, i, [](char c) { return c != '/'; }); }},
    {"[ab]", [](std::string_view s,
                size_t i) { return One(s, i, [](char c) { return c == 'a' || c == 'b'; }); }},
    {"[!a]", [](std::string_view s,
                size_t i) { return One(s, i, [](char c) { return c != 'a' && c != '/'; }); }},
    {"[.-b]",
     [](std::string_view s, size_t i) {
       return One(s, i, [](char c) { return c >= '.' && c <= 'b' && c != '/'; });
     }},
    {"{a,b}",
     [](std::string_view s, size_t i) {
       Lengths out = Lit(s, i, "a");
       for (size_t n : Lit(s, i, "b")) out.push_back(n);
       return out;
     }},
    {"{a/,}",
     [](std::string_view s, size_t i) {
       Lengths out = Lit(s, i, "a/");
       out.push_back(0);
       return out;
     }},
};

struct RandomGlob {
  std::string glob;
  bool anchored = false;
  std::vector<const Fragment*> fragments;
};

RandomGlob MakeGlob(std::mt19937& rng) {
  RandomGlob out;
  out.anchored = rng() % 3 == 0;
  const int n = 1 + static_cast<int>(rng() % 5);
  for (int i = 0; i < n; ++i) {
    const Fragment& f = kFragments[rng() % std::size(kFragments)];
    // Adjacent stars would merge into a different token in the glob.
    if (!out.glob.empty() && out.glob.back() == '*' && f.glob[0] == '*') continue;
    // A leading '/' would anchor the glob rather than match a '/'.
    if (out.glob.empty() && f.glob[0] == '/') continue;
    out.glob += f.glob;
    out.fragments.push_back(&f);
  }
  if (out.fragments.empty()) {
    out.glob = kFragments[0].glob;
    out.fragments.push_back(&kFragments[0]);
  }
  if (out.anchored) out.glob = "/" + out.glob;
  return out;
}

bool OracleMatchesAt(const RandomGlob& g, size_t fi, std::string_view s, size_t si) {
  if (fi == g.fragments.size()) return si == s.size();
  for (const size_t len : g.fragments[fi]->consume(s, si)) {
    if (OracleMatchesAt(g, fi + 1, s, si + len)) return true;
  }
  return false;
}

bool OracleMatches(const RandomGlob& g, std::string_view s) {
  if (OracleMatchesAt(g, 0, s, 0)) return true;
  for (size_t i = 0; !g.anchored && i < s.size(); ++i) {
    if (s[i] == '/' && OracleMatchesAt(g, 0, s, i + 1)) return true;
  }
  return false;
}

std::string MakePath(std::mt19937& rng) {
  static constexpr char kChars[] = "ab.x";
  std::string path;
  const int segments = 1 + static_cast<int>(rng() % 4);
  for (int s = 0; s < segments; ++s) {
    if (s > 0) path += '/';
    const int len = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < len; ++i) path += kChars[rng() % 4];
  }
  return path;
}

TEST(FilterRandomTest, MatchingAgreesWithNaiveOracle) {
  std::mt19937 rng(12345);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on failure
  for (int round = 0; round < 3000; ++round) {
    const RandomGlob g = MakeGlob(rng);
    if (g.glob.ends_with('/')) continue;  // directory rules are covered elsewhere
    const Filter filter = ExcludeOnly(g.glob);
    for (int i = 0; i < 40; ++i) {
      const std::string path = MakePath(rng);
      ASSERT_EQ(filter.IncludesFile(path), !OracleMatches(g, path))
          << "glob \"" << g.glob << "\" path " << path;
    }
  }
}

TEST(FilterRandomTest, MayIncludeDirIsNeverWrongWhenFalse) {
  std::mt19937 rng(777);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on failure
  int pruned = 0;
  for (int round = 0; round < 600; ++round) {
    std::string rules;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) rules += (rng() % 2 ? "+ " : "- ") + MakeGlob(rng).glob + "\n";
    FilterOptions opts = NoDefaults();
    if (rng() % 3 == 0) opts.includes = {MakeGlob(rng).glob};
    TempFile file(rules);
    opts.filter_from = file.path();
    const Filter filter = BuildOrDie(opts);
    for (int i = 0; i < 60; ++i) {
      const std::string path = MakePath(rng);
      for (size_t slash = path.find('/'); slash != std::string::npos;
           slash = path.find('/', slash + 1)) {
        const std::string dir = path.substr(0, slash);
        const bool may = filter.MayIncludeDir(dir);
        pruned += may ? 0 : 1;
        if (filter.IncludesFile(path)) {
          ASSERT_TRUE(may) << "dir " << dir << " hides " << path << " with " << filter.Describe();
        }
      }
      if (filter.IncludesFile(path)) {
        ASSERT_TRUE(filter.MayIncludeDir("")) << filter.Describe();
      }
    }
  }
  EXPECT_GT(pruned, 100);  // the check above is not vacuous
}

TEST(SplitPatternListTest, SplitsOnCommasLikeRcloneEnvironmentLists) {
  using V = std::vector<std::string>;
  EXPECT_EQ(SplitPatternList("*.db*,*.log"), (V{"*.db*", "*.log"}));
  EXPECT_EQ(SplitPatternList(" cache/** , *.pid ,"), (V{"cache/**", "*.pid"}));
  EXPECT_EQ(SplitPatternList(""), V{});
  EXPECT_EQ(SplitPatternList("one"), V{"one"});
}

TEST(SplitPatternListTest, CommasInsideBracesAndClassesBelongToThePattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(SplitPatternList("*.{ini,xml},logs/**"), (V{"*.{ini,xml}", "logs/**"}));
  EXPECT_EQ(SplitPatternList("a[,]b,c"), (V{"a[,]b", "c"}));
  EXPECT_EQ(SplitPatternList("{a,{b,c}},d"), (V{"{a,{b,c}}", "d"}));
}

}  // namespace
}  // namespace cfgsync

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

#include "support/random_glob.h"

namespace cfgsync {
namespace {

using testing::MakeGlob;
using testing::MakePath;

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

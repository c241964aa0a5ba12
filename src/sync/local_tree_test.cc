#include "sync/local_tree.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/files.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

using Strings = std::vector<std::string>;

class TreeStreamTest : public ::testing::Test {
 protected:
  void Write(const std::string& rel) { testing::WriteFile(tmp_.path() / rel, rel); }

  // Every file the stream returns, in its order.
  Strings Stream(TreeStream& s) {
    Strings out;
    for (;;) {
      auto f = s.Next();
      EXPECT_TRUE(f) << (f ? "" : f.error().message);
      if (!f || !*f) return out;
      out.push_back((*f)->rel);
    }
  }

  testing::TempDir tmp_{"cfgsync-tree"};
  Filter filter_ = *Filter::Build(FilterOptions{});
};

// Names around '/' in byte order: "a-b" < "a/x" < "a0", and "a.c" before the folder "a".
TEST_F(TreeStreamTest, FilesComeInKeyOrder) {
  for (const char* rel : {"a0", "a/x", "a/y/z", "a-b", "a.c", "b/c/d", "b/c-d", "B", "a/y-"})
    Write(rel);
  TreeStream s(tmp_.path(), filter_);
  ASSERT_TRUE(s.Start());
  const Strings got = Stream(s);
  Strings sorted = got;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(got, sorted);
  EXPECT_EQ(got.size(), 9u);
  EXPECT_EQ(s.files(), 9u);
  EXPECT_TRUE(s.root_exists());
}

TEST_F(TreeStreamTest, MatchesScanTree) {
  for (const char* rel : {"x/1", "x/2", "y", "x-/3", "z/z/z"}) Write(rel);
  std::filesystem::create_directories(tmp_.path() / "empty");
  auto tree = ScanTree(tmp_.path(), filter_);
  ASSERT_TRUE(tree);
  TreeStream s(tmp_.path(), filter_);
  ASSERT_TRUE(s.Start());
  Strings rels;
  for (const auto& f : tree->files) rels.push_back(f.rel);
  EXPECT_EQ(Stream(s), rels);
  EXPECT_EQ(tree->dirs, (Strings{"empty", "x", "x-", "z", "z/z"}));
}

TEST_F(TreeStreamTest, MissingRootIsEmpty) {
  TreeStream s(tmp_.path() / "nope", filter_);
  ASSERT_TRUE(s.Start());
  EXPECT_FALSE(s.root_exists());
  EXPECT_TRUE(Stream(s).empty());
}

/* Root reads every folder, so as root the walk runs in a child process that has given up root
 * (uid/gid 65534): the test runs in CI too, where tests run as root. */
TEST_F(TreeStreamTest, UnreadableFolderIsKnownBeforeLaterFiles) {
  Write("a/locked/f");
  Write("a/m");
  ASSERT_EQ(::chmod((tmp_.path() / "a/locked").c_str(), 0), 0);
  auto check = [&]() -> std::string {
    TreeStream s(tmp_.path(), filter_);
    if (!s.Start()) return "Start failed";
    auto f = s.Next();
    if (!f || !*f) return "no first file";
    if ((*f)->rel != "a/m") return "first file " + (*f)->rel;
    if (s.unreadable_dirs() != Strings{"a/locked"}) return "a/locked not known as unreadable";
    return "";
  };
  if (::geteuid() != 0) {
    EXPECT_EQ(check(), "");
  } else {
    struct stat parent {};
    if (::stat(tmp_.path().parent_path().c_str(), &parent) != 0 || !(parent.st_mode & S_IXOTH))
      GTEST_SKIP() << "uid 65534 cannot reach " << tmp_.path().parent_path();
    for (const char* d : {"", "a"}) ::chmod((tmp_.path() / d).c_str(), 0755);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const bool dropped = ::setgid(65534) == 0 && ::setuid(65534) == 0;
      ::_exit(dropped && check().empty() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the walk as uid 65534 failed";
  }
  ::chmod((tmp_.path() / "a/locked").c_str(), 0700);
}

}  // namespace
}  // namespace cfgsync

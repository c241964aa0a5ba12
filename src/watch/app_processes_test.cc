#include "watch/app_processes.h"

#include <gtest/gtest.h>

#include "support/files.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;

// A fake procfs: pid 1 with `comm`, and processes given as pid → stat line.
void Proc(const fs::path& root, const std::string& pid, const std::string& comm,
          const std::string& state, unsigned long long start) {
  testing::WriteFile(root / pid / "comm", comm + "\n");
  std::string stat = pid + " (" + comm + " (x)) " + state;
  for (int field = 4; field <= 21; ++field) stat += " 0";
  stat += " " + std::to_string(start) + " 0 0\n";
  testing::WriteFile(root / pid / "stat", stat);
}

TEST(AppProcessesTest, FollowsTheAppWhenPidOneIsPause) {
  testing::TempDir tmp("cfgsync-proc");
  Proc(tmp.path(), "1", "pause", "S", 10);
  Proc(tmp.path(), "7", "node", "S", 20);
  AppProcesses app(tmp.path());
  app.Snapshot();
  ASSERT_TRUE(app.Visible());
  EXPECT_FALSE(app.Gone());
  Proc(tmp.path(), "7", "node", "Z", 20);  // exited, not reaped yet
  EXPECT_TRUE(app.Gone());
  Proc(tmp.path(), "7", "other", "S", 99);  // the pid was reused
  EXPECT_TRUE(app.Gone());
  fs::remove_all(tmp.path() / "7");
  EXPECT_TRUE(app.Gone());
}

// A start time that is not a whole number in range is no process to wait for (a garbled
// /proc entry must not be trusted, nor end the process).
TEST(AppProcessesTest, MalformedStartTimesAreIgnored) {
  testing::TempDir tmp("cfgsync-proc");
  Proc(tmp.path(), "1", "pause", "S", 10);
  testing::WriteFile(tmp.path() / "7" / "comm", "node\n");
  std::string stat = "7 (node) S";
  for (int field = 4; field <= 21; ++field) stat += " 0";
  for (const char* bad : {"20junk", "99999999999999999999999", "-20"}) {
    testing::WriteFile(tmp.path() / "7" / "stat", stat + " " + bad + " 0 0\n");
    AppProcesses app(tmp.path());
    app.Snapshot();
    EXPECT_TRUE(app.Gone()) << bad;
  }
}

TEST(AppProcessesTest, SeesNothingWithoutASharedNamespace) {
  testing::TempDir tmp("cfgsync-proc");
  Proc(tmp.path(), "1", "systemd", "S", 1);
  Proc(tmp.path(), "7", "node", "S", 20);
  AppProcesses app(tmp.path());
  app.Snapshot();
  EXPECT_FALSE(app.Visible());
}

}  // namespace
}  // namespace cfgsync

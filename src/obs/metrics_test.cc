#include "obs/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

namespace cfgsync {
namespace {

MonoTime Now() { return MonoTime{} + std::chrono::hours(10); }

class ReadinessTest : public ::testing::Test {
 protected:
  void Started() {
    state_.phase = Phase::kWatching;
    state_.sidecar.watching = true;
    state_.sidecar.reconcile_attempted = true;
  }
  ProcessState state_;
};

TEST_F(ReadinessTest, StartupModeAnswersForTheStartOnly) {
  state_.phase = Phase::kRestoring;
  EXPECT_FALSE(CheckReady(state_, Now(), Millis(1000)).ready);
  state_.phase = Phase::kWatching;
  EXPECT_FALSE(CheckReady(state_, Now(), Millis(1000)).ready);  // no watch yet
  Started();
  state_.sidecar.reconciled = false;  // the first reconcile failed: attempted is enough
  state_.sidecar.guard_tripped = true;
  state_.sidecar.remote_up = false;
  state_.sidecar.remote_down_since_ms = 1;
  EXPECT_TRUE(CheckReady(state_, Now(), Millis(1000)).ready);
}

TEST_F(ReadinessTest, BackupModeAlsoAnswersForTheBackup) {
  Started();
  state_.sidecar.reconciled = true;
  EXPECT_TRUE(CheckReady(state_, Now(), Millis(1000), ReadinessMode::kBackup).ready);
  state_.sidecar.guard_tripped = true;
  EXPECT_FALSE(CheckReady(state_, Now(), Millis(1000), ReadinessMode::kBackup).ready);
  state_.sidecar.guard_tripped = false;
  state_.sidecar.remote_up = false;
  state_.sidecar.remote_down_since_ms = 1;
  EXPECT_FALSE(CheckReady(state_, Now(), Millis(1000), ReadinessMode::kBackup).ready);
  EXPECT_EQ(ParseReadinessMode("backup"), ReadinessMode::kBackup);
  EXPECT_FALSE(ParseReadinessMode("strict"));
}

TEST(MetricsTest, GapsAndLagAreExported) {
  ProcessState state;
  Gaps gaps;
  gaps.Report("a.ini", GapReason::kPermission, "Permission denied");
  state.gaps = &gaps;
  auto now = Now();
  state.sidecar.behind_since_ms =
      std::chrono::duration_cast<Millis>((now - std::chrono::seconds(90)).time_since_epoch())
          .count();
  std::string text = RenderMetrics(state, now);
  EXPECT_NE(text.find("cfgsync_unprotected_files 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cfgsync_local_errors_total{reason=\"permission\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("cfgsync_local_errors_total{reason=\"vanished\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("cfgsync_backup_behind_seconds 90\n"), std::string::npos);
  EXPECT_EQ(text.find("a.ini"), std::string::npos);  // no label carries a path
}

TEST(MetricsTest, StatusIsJsonNamingTheGaps) {
  ProcessState state;
  Gaps gaps;
  gaps.Report("bad\xff.ini", GapReason::kName, "control character");
  state.gaps = &gaps;
  state.sidecar.SetGuardReason("held");
  auto doc = nlohmann::json::parse(
      RenderStatus(state, Now(), Readiness{true, "ok"}, ReadinessMode::kStartup));
  EXPECT_EQ(doc["unprotected_files"], 1);
  EXPECT_EQ(doc["unprotected"][0]["reason"], "name");
  EXPECT_EQ(doc["guard"]["reason"], "held");
  EXPECT_EQ(doc["readiness"], "startup");
  EXPECT_EQ(doc["phase"], "starting");
}

// The histogram's lines, in order: every `le` bucket, then `+Inf`, then `_count`.
std::vector<long long> HistogramCounts(const std::string& text) {
  std::vector<long long> counts;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("cfgsync_push_duration_seconds_bucket") &&
        !line.starts_with("cfgsync_push_duration_seconds_count")) {
      continue;
    }
    counts.push_back(std::stoll(line.substr(line.rfind(' ') + 1)));
  }
  return counts;
}

TEST(MetricsTest, PushHistogramIsOneConsistentSnapshot) {
  ProcessState state;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) state.sidecar.ObservePush(i % 2 ? 0.003 : 20.0);
  });
  int torn = 0;
  for (int round = 0; round < 3000 && torn == 0; ++round) {
    std::vector<long long> c = HistogramCounts(RenderMetrics(state, Now()));
    ASSERT_EQ(c.size(), SidecarState::kBuckets.size() + 2);
    for (std::size_t i = 1; i + 1 < c.size(); ++i) torn += c[i] < c[i - 1] ? 1 : 0;
    torn += c[c.size() - 2] != c.back() ? 1 : 0;  // +Inf equals _count
  }
  stop = true;
  writer.join();
  EXPECT_EQ(torn, 0) << "buckets read at different moments";
}

TEST(MetricsTest, HealthComesFromTheLoopsLatestTurn) {
  ProcessState state;
  EXPECT_TRUE(CheckHealth(state, Now()).ready);  // no loop yet: restoring
  state.ping_fd = 5;
  state.sidecar.loop_started = true;
  const auto now_ms = std::chrono::duration_cast<Millis>(Now().time_since_epoch()).count();
  state.sidecar.loop_turn_ms = now_ms - 1000;
  EXPECT_TRUE(CheckHealth(state, Now()).ready);
  state.sidecar.loop_turn_ms = now_ms - kLoopStall.count() - 1000;
  Readiness stuck = CheckHealth(state, Now());
  EXPECT_FALSE(stuck.ready);
  EXPECT_EQ(stuck.reason, "event loop not responding for 16s");
  state.sidecar.loop_stopping = true;  // joining the workers: the loop has ended on purpose
  EXPECT_TRUE(CheckHealth(state, Now()).ready);
}

}  // namespace
}  // namespace cfgsync

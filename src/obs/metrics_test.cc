#include "obs/metrics.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace cfgsync {
namespace {

MonoTime Now() { return MonoTime{} + std::chrono::hours(10); }

class ReadinessTest : public ::testing::Test {
 protected:
  void Started() {
    state_.phase = Phase::kWatching;
    sidecar_.watching = true;
    sidecar_.reconcile_attempted = true;
  }
  ProcessState state_;
  SidecarReport sidecar_;
};

TEST_F(ReadinessTest, StartupModeAnswersForTheStartOnly) {
  state_.phase = Phase::kRestoring;
  EXPECT_FALSE(CheckReady(state_, sidecar_, Now(), Millis(1000)).ready);
  state_.phase = Phase::kWatching;
  EXPECT_FALSE(CheckReady(state_, sidecar_, Now(), Millis(1000)).ready);  // no watch yet
  Started();
  sidecar_.reconciled = false;  // the first reconcile failed: attempted is enough
  sidecar_.guard_tripped = true;
  sidecar_.remote_up = false;
  sidecar_.remote_down_since_ms = 1;
  EXPECT_TRUE(CheckReady(state_, sidecar_, Now(), Millis(1000)).ready);
}

TEST_F(ReadinessTest, BackupModeAlsoAnswersForTheBackup) {
  Started();
  sidecar_.reconciled = true;
  EXPECT_TRUE(CheckReady(state_, sidecar_, Now(), Millis(1000), ReadinessMode::kBackup).ready);
  sidecar_.guard_tripped = true;
  EXPECT_FALSE(CheckReady(state_, sidecar_, Now(), Millis(1000), ReadinessMode::kBackup).ready);
  sidecar_.guard_tripped = false;
  sidecar_.remote_up = false;
  sidecar_.remote_down_since_ms = 1;
  EXPECT_FALSE(CheckReady(state_, sidecar_, Now(), Millis(1000), ReadinessMode::kBackup).ready);
  EXPECT_EQ(ParseReadinessMode("backup"), ReadinessMode::kBackup);
  EXPECT_FALSE(ParseReadinessMode("strict"));
}

TEST(MetricsTest, GapsAndLagAreExported) {
  ProcessState state;
  SidecarReport sidecar;
  Gaps gaps;
  gaps.Report("a.ini", GapReason::kPermission, "Permission denied");
  state.gaps = &gaps;
  auto now = Now();
  sidecar.behind_since_ms =
      std::chrono::duration_cast<Millis>((now - std::chrono::seconds(90)).time_since_epoch())
          .count();
  std::string text = RenderMetrics(state, sidecar, now);
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
  SidecarReport sidecar;
  sidecar.guard_reason = "held";
  auto doc = nlohmann::json::parse(
      RenderStatus(state, sidecar, Now(), Readiness{true, "ok"}, ReadinessMode::kStartup));
  EXPECT_EQ(doc["unprotected_files"], 1);
  EXPECT_EQ(doc["unprotected"][0]["reason"], "name");
  EXPECT_EQ(doc["guard"]["reason"], "held");
  EXPECT_EQ(doc["readiness"], "startup");
  EXPECT_EQ(doc["phase"], "starting");
}

TEST(MetricsTest, PushHistogramIsRenderedCumulative) {
  SidecarReport sidecar;
  sidecar.push_latency = {{0.005, 1, 10}, {1, 2, 4}, 5, 2'500'000};
  const std::string text = RenderMetrics(ProcessState{}, sidecar, Now());
  EXPECT_NE(text.find("cfgsync_push_duration_seconds_bucket{le=\"0.005\"} 1\n"
                      "cfgsync_push_duration_seconds_bucket{le=\"1\"} 2\n"
                      "cfgsync_push_duration_seconds_bucket{le=\"10\"} 4\n"
                      "cfgsync_push_duration_seconds_bucket{le=\"+Inf\"} 5\n"
                      "cfgsync_push_duration_seconds_sum 2.5\n"
                      "cfgsync_push_duration_seconds_count 5\n"),
            std::string::npos)
      << text;
}

TEST(MetricsTest, HealthComesFromTheLoopsLatestTurn) {
  ProcessState state;
  SidecarReport sidecar;
  EXPECT_TRUE(CheckHealth(state, sidecar, Now()).ready);  // no loop yet: restoring
  state.ping_fd = 5;
  sidecar.loop_started = true;
  const auto now_ms = std::chrono::duration_cast<Millis>(Now().time_since_epoch()).count();
  sidecar.loop_turn_ms = now_ms - 1000;
  EXPECT_TRUE(CheckHealth(state, sidecar, Now()).ready);
  sidecar.loop_turn_ms = now_ms - kLoopStall.count() - 1000;
  Readiness stuck = CheckHealth(state, sidecar, Now());
  EXPECT_FALSE(stuck.ready);
  EXPECT_EQ(stuck.reason, "event loop not responding for 16s");
  sidecar.loop_stopping = true;  // joining the workers: the loop has ended on purpose
  EXPECT_TRUE(CheckHealth(state, sidecar, Now()).ready);
}

}  // namespace
}  // namespace cfgsync

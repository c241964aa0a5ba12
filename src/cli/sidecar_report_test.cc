#include "cli/sidecar_report.h"

#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cfgsync::cli {
namespace {

MonoTime Now() { return MonoTime{} + std::chrono::hours(10); }

TEST(SidecarReportTest, ReadsEveryFigure) {
  SidecarState state;
  state.watching = true;
  state.remote_up = false;
  state.remote_down_since_ms = 7;
  state.uploads = 3;
  state.loop_turn_ms = 11;
  state.SetGuardReason("held");
  state.ObservePush(0.3);
  const SidecarReport r = ReportOf(state);
  EXPECT_TRUE(r.watching);
  EXPECT_FALSE(r.remote_up);
  EXPECT_EQ(r.remote_down_since_ms, 7);
  EXPECT_EQ(r.uploads, 3);
  EXPECT_EQ(r.loop_turn_ms, 11);
  EXPECT_EQ(r.guard_reason, "held");
  ASSERT_EQ(r.push_latency.bounds.size(), SidecarState::kBuckets.size());
  ASSERT_EQ(r.push_latency.le.size(), SidecarState::kBuckets.size());
  EXPECT_EQ(r.push_latency.count, 1);
  EXPECT_EQ(r.push_latency.le.back(), 1);
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
  SidecarState state;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) state.ObservePush(i % 2 ? 0.003 : 20.0);
  });
  int torn = 0;
  for (int round = 0; round < 3000 && torn == 0; ++round) {
    std::vector<long long> c =
        HistogramCounts(RenderMetrics(ProcessState{}, ReportOf(state), Now()));
    ASSERT_EQ(c.size(), SidecarState::kBuckets.size() + 2);
    for (std::size_t i = 1; i + 1 < c.size(); ++i) torn += c[i] < c[i - 1] ? 1 : 0;
    torn += c[c.size() - 2] != c.back() ? 1 : 0;  // +Inf equals _count
  }
  stop = true;
  writer.join();
  EXPECT_EQ(torn, 0) << "buckets read at different moments";
}

}  // namespace
}  // namespace cfgsync::cli

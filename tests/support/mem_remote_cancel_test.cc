// A call stalled on a remote that stopped answering ends soon after its stop is requested.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stop_token>
#include <string>
#include <thread>

#include "support/mem_remote.h"

namespace cfgsync {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Runs `call` on another thread against a stalled MemRemote, requests stop once the call has
// been stalled a moment, and returns the call's result and how long it took to end after stop.
template <class Call>
auto StopWhileStalled(MemRemote& mem, Call call) {
  mem.SetStalled(true);
  std::stop_source stop;
  auto result = std::async(std::launch::async, [&] { return call(stop.get_token()); });
  EXPECT_EQ(result.wait_for(200ms), std::future_status::timeout) << "the call did not stall";
  const auto asked = Clock::now();
  stop.request_stop();
  EXPECT_EQ(result.wait_for(5s), std::future_status::ready) << "the call ignored its stop";
  auto got = result.get();
  return std::pair{std::move(got), Clock::now() - asked};
}

TEST(MemRemoteCancelTest, StalledGetEndsCancelledSoonAfterStop) {
  MemRemote mem;
  mem.Seed("a.ini", "a=1\n");
  StringSink sink;
  auto [got, after] = StopWhileStalled(
      mem, [&](std::stop_token stop) { return mem.Get("a.ini", sink, CallOptions{.stop = stop}); });
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kCancelled) << got.error().message;
  EXPECT_LT(after, 5s);
  EXPECT_EQ(sink.data(), "");
}

TEST(MemRemoteCancelTest, StalledPutEndsCancelledSoonAfterStopAndStoresNothing) {
  MemRemote mem;
  const std::string content = "b=2\n";
  auto [put, after] = StopWhileStalled(mem, [&](std::stop_token stop) {
    return mem.Put("b.ini", StringSource(content), FileMeta{}, CallOptions{.stop = stop});
  });
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kCancelled) << put.error().message;
  EXPECT_LT(after, 5s);
  mem.SetStalled(false);
  EXPECT_EQ(mem.Content("b.ini"), std::nullopt);
}

TEST(MemRemoteCancelTest, LiftingTheStallLetsTheCallFinish) {
  MemRemote mem;
  mem.Seed("c.ini", "c=3\n");
  mem.SetStalled(true);
  StringSink sink;
  auto got = std::async(std::launch::async, [&] { return mem.Get("c.ini", sink); });
  EXPECT_EQ(got.wait_for(100ms), std::future_status::timeout);
  mem.SetStalled(false);
  ASSERT_EQ(got.wait_for(5s), std::future_status::ready);
  auto result = got.get();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(sink.data(), "c=3\n");
}

}  // namespace
}  // namespace cfgsync

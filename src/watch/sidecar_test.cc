#include "watch/sidecar.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "support/fault_remote.h"
#include "support/files.h"
#include "support/mem_remote.h"
#include "support/remote_files.h"
#include "support/test_server.h"
#include "sync/push.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;
using testing::WriteFile;
using namespace std::chrono_literals;

// Polls `cond` for up to `limit`; true as soon as it holds.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = 10s) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(5ms)) {
    if (cond()) return true;
  }
  return cond();
}

// A sidecar on a temporary folder, backed by an in-memory remote that can be cut off, run on
// its own thread and stopped through a pipe standing in for the signalfd.
class SidecarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_);
    WriteFile(dir_ / "a.ini", "a1");
    WriteFile(dir_ / "b.ini", "b1");
    fault_.SetHook([this](RemoteOp, std::string_view key) -> std::optional<Error> {
      if (key == "slow.ini" && hold_slow_ && !slow_sent_.exchange(true)) {  // the first only
        while (hold_slow_) std::this_thread::sleep_for(5ms);
        slow_done_ = true;
        return Error{ErrorKind::kNetwork, "connection refused (sent during the outage)"};
      }
      if (down_) return Error{ErrorKind::kNetwork, "connection refused"};
      return std::nullopt;
    });
    ASSERT_EQ(::pipe(stop_), 0);
    SidecarOptions o;
    o.dir = dir_;
    o.debounce = Millis(50);
    o.max_delay = Millis(1000);
    o.transfers = 2;
    o.shutdown_timeout = shutdown_timeout_;
    down_ = start_down_;
    sidecar_ = std::make_unique<Sidecar>(pusher_, filter_, o, state_);
    thread_ = std::thread([this] { exit_code_ = sidecar_->Run(stop_[0]); });
    ASSERT_TRUE(WaitFor([&] { return state_.reconcile_attempted.load(); }));
    ASSERT_TRUE(start_down_ || state_.reconciled.load());
  }

  void TearDown() override {
    down_ = false;
    hold_slow_ = false;
    if (thread_.joinable()) {
      SendStop();
      thread_.join();
    }
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

  void SendStop() {
    signalfd_siginfo info{};
    info.ssi_signo = SIGTERM;
    ASSERT_EQ(::write(stop_[1], &info, sizeof info), static_cast<ssize_t>(sizeof info));
  }

  Millis shutdown_timeout_{20'000};
  bool start_down_ = false;             // the remote fails from the start
  std::atomic<bool> slow_done_{false};  // the held put of slow.ini has returned

  testing::TempDir tmp_{"cfgsync-sidecar"};
  fs::path dir_ = tmp_.path() / "config";
  MemRemote mem_;
  FaultRemote fault_{mem_};
  std::atomic<bool> down_{false};
  std::atomic<bool> hold_slow_{false};  // the first put of slow.ini hangs, then fails
  std::atomic<bool> slow_sent_{false};
  Filter filter_ = *Filter::Build(FilterOptions{});
  Pusher pusher_{fault_, filter_, PushOptions{.dir = dir_, .guard = {}}, RealClock::Get()};
  SidecarState state_;
  std::unique_ptr<Sidecar> sidecar_;
  std::thread thread_;
  int stop_[2] = {-1, -1};
  int exit_code_ = -1;
};

TEST_F(SidecarTest, ChangesDuringAnOutageArriveWhenTheRemoteReturns) {
  down_ = true;
  WriteFile(dir_ / "a.ini", "a2");
  ASSERT_TRUE(WaitFor([&] { return !state_.remote_up.load(); }));
  down_ = false;
  EXPECT_TRUE(WaitFor([&] { return mem_.Content("a.ini") == "a2"; }));
  EXPECT_TRUE(WaitFor([&] { return state_.remote_up.load(); }));
}

TEST_F(SidecarTest, AJobThatNeverReachedTheRemoteDoesNotEndTheOutage) {
  down_ = true;
  WriteFile(dir_ / "a.ini", "a2");
  ASSERT_TRUE(WaitFor([&] { return !state_.remote_up.load(); }));
  /* A short-lived file is pushed as a removal of a key the backup never had: it succeeds
   * without any request, which proves nothing about the remote. */
  WriteFile(dir_ / "short-lived.ini", "x");
  fs::remove(dir_ / "short-lived.ini");
  EXPECT_FALSE(WaitFor([&] { return state_.remote_up.load(); }, 1500ms))
      << "an answer from the index was taken for the remote's return";
  EXPECT_NE(state_.remote_down_since_ms.load(), 0);
}

TEST_F(SidecarTest, AFailureSentBeforeTheRemoteCameBackIsNotANewOutage) {
  /* While the remote fails only one probe is in flight at a time, so the late answer comes
   * from a push sent before the outage began. */
  hold_slow_ = true;
  WriteFile(dir_ / "slow.ini", "s");
  ASSERT_TRUE(WaitFor([&] { return slow_sent_.load(); }));
  down_ = true;
  WriteFile(dir_ / "a.ini", "a2");
  ASSERT_TRUE(WaitFor([&] { return !state_.remote_up.load(); }));
  down_ = false;
  ASSERT_TRUE(WaitFor([&] { return mem_.Content("a.ini") == "a2"; }));
  ASSERT_TRUE(WaitFor([&] { return state_.remote_up.load(); }));
  hold_slow_ = false;  // its answer, a failure, arrives after the recovery
  EXPECT_FALSE(WaitFor([&] { return !state_.remote_up.load(); }, 1000ms))
      << "a failure from before the recovery started a new outage";
  EXPECT_EQ(state_.remote_down_since_ms.load(), 0);
  EXPECT_TRUE(WaitFor([&] { return mem_.Content("slow.ini") == "s"; }));
}

// Shutdown with a short timeout: the final push starts 1.5 s after SIGTERM and ends at 2 s.
class SidecarShutdownTest : public SidecarTest {
 protected:
  SidecarShutdownTest() { shutdown_timeout_ = Millis(2000); }

  // A push of slow.ini hangs inside its request until released, and SIGTERM arrives.
  void StopWithARequestHanging() {
    hold_slow_ = true;
    WriteFile(dir_ / "slow.ini", "s");
    ASSERT_TRUE(WaitFor([&] { return slow_sent_.load(); }));
    SendStop();
  }
};

double CpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TEST_F(SidecarShutdownTest, RunReturnsOnlyOnceTheRequestUnderWayHasEnded) {
  StopWithARequestHanging();
  std::thread release([&] {
    std::this_thread::sleep_for(2800ms);  // past the shutdown deadline
    hold_slow_ = false;
  });
  thread_.join();
  const bool done_before_return = slow_done_;
  release.join();
  EXPECT_TRUE(done_before_return) << "Run returned with a worker still inside a request";
  EXPECT_EQ(exit_code_, 1);  // slow.ini is not in the backup
}

TEST_F(SidecarShutdownTest, TheFinalPushReadsEveryDescriptorItWaitsOn) {
  StopWithARequestHanging();
  std::this_thread::sleep_for(1600ms);  // the final push waits for the hanging request
  SendStop();                           // a second SIGTERM
  std::uint64_t one = 1;
  ASSERT_EQ(::write(sidecar_->ping_fd(), &one, sizeof one), 8);  // a health probe
  const double cpu0 = CpuSeconds();
  std::this_thread::sleep_for(300ms);
  const double busy = CpuSeconds() - cpu0;
  hold_slow_ = false;
  thread_.join();
  /* Waiting costs next to no CPU; a loop spinning on an unread descriptor costs whatever share
   * of a core it gets, a fraction of the 300 ms even on a loaded machine. */
  EXPECT_LT(busy, 0.03) << "the wait turned into a busy loop";
}

// The remote is down from the start, so every reconcile fails and is retried with backoff.
class SidecarDownTest : public SidecarTest {
 protected:
  SidecarDownTest() {
    start_down_ = true;
    logger_->set_pattern("%l %v");
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(logger_);
  }
  ~SidecarDownTest() override { spdlog::set_default_logger(previous_); }

  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> logger_ = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(SidecarDownTest, AStreakOfFailedReconcilesIsOneWarning) {
  ASSERT_TRUE(WaitFor([&] { return state_.reconcile_errors.load() >= 3; }));
  down_ = false;
  ASSERT_TRUE(WaitFor([&] { return state_.reconciled.load(); }));
  logger_->flush();
  const std::string log = log_.str();
  std::size_t warnings = 0;
  for (std::size_t at = log.find("warning reconcile failed"); at != std::string::npos;
       at = log.find("warning reconcile failed", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1U) << log;
  EXPECT_NE(log.find("reconcile works again after"), std::string::npos) << log;
}

}  // namespace
}  // namespace cfgsync

// The S3 remote against tests/support/fault_s3.py: a stop request ends a Get whose server has
// stopped answering within seconds, long before the stall timeout, and a Get whose answer was
// cut short is retried into a sink reset first.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <stop_token>
#include <string>
#include <thread>

#include "remote/stream.h"
#include "s3/s3_remote.h"
#include "support/files.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::RunCommand;
using testing::ShellQuote;
using testing::TempDir;

// One fault_s3.py serving bucket "backups" with the files of `seed` under "app/".
class FaultServer {
 public:
  FaultServer(const fs::path& seed, const std::string& faults) {
    fs::path script = fs::path(CFGSYNC_SOURCE_DIR) / "tests/support/fault_s3.py";
    log_ = dir_.path() / "fault.log";
    auto started = RunCommand("python3 " + ShellQuote(script.string()) +
                              " --max-seconds 120 --seed " + ShellQuote(seed.string()) + " app " +
                              faults + " >" + ShellQuote(log_.string()) + " 2>&1 & echo $!");
    pid_ = std::stoi(started.out.empty() ? "-1" : started.out);
    for (int i = 0; i < 100 && port_ == 0; ++i) {
      std::string log = testing::ReadFile(log_);
      if (log.starts_with("ready ")) port_ = std::stoi(log.substr(6));
      if (port_ == 0) std::this_thread::sleep_for(100ms);
    }
  }
  ~FaultServer() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  bool ready() const { return port_ > 0; }
  std::string log() const { return testing::ReadFile(log_); }
  s3::S3Config Config() const {
    s3::S3Config config;
    config.endpoint = "http://127.0.0.1:" + std::to_string(port_);
    config.bucket = "backups";
    config.prefix = "app";
    config.creds = {"fault-key", "fault-secret", ""};
    config.base_backoff = Millis(10);
    return config;
  }

 private:
  TempDir dir_{"cfgsync-fault-s3"};
  fs::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A sink that counts its resets.
class CountingSink final : public ByteSink {
 public:
  Status Write(std::span<const char> data) override {
    data_.append(data.data(), data.size());
    return {};
  }
  Status Reset() override {
    ++resets_;
    data_.clear();
    return {};
  }
  const std::string& data() const { return data_; }
  int resets() const { return resets_; }

 private:
  std::string data_;
  int resets_ = 0;
};

class RemoteCancelTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::WriteFile(seed_.path() / "a.ini", content_); }
  TempDir seed_{"cfgsync-fault-seed"};
  const std::string content_ = "alpha=1\n";
};

TEST_F(RemoteCancelTest, StopEndsAGetOfAStalledServerWithinSeconds) {
  FaultServer server(seed_.path(), "--fault delay=60 --only get");
  ASSERT_TRUE(server.ready()) << server.log();
  auto remote = s3::MakeS3Remote(server.Config());  // stall timeout: the default 30 s
  std::stop_source stop;
  StringSink sink;
  auto got = std::async(std::launch::async, [&] {
    return remote->Get("a.ini", sink, CallOptions{.stop = stop.get_token()});
  });
  ASSERT_EQ(got.wait_for(1s), std::future_status::timeout) << "the server did not stall";
  const auto asked = std::chrono::steady_clock::now();
  stop.request_stop();
  ASSERT_EQ(got.wait_for(10s), std::future_status::ready) << "the Get ignored its stop";
  const auto after = std::chrono::steady_clock::now() - asked;
  auto result = got.get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kCancelled) << result.error().message;
  EXPECT_LT(after, 5s);
}

TEST_F(RemoteCancelTest, GetCutShortIsRetriedIntoAResetSink) {
  FaultServer server(seed_.path(), "--fault short-body --only get --times 1");
  ASSERT_TRUE(server.ready()) << server.log();
  auto remote = s3::MakeS3Remote(server.Config());
  CountingSink sink;
  auto got = remote->Get("a.ini", sink);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(sink.data(), content_);
  EXPECT_GE(sink.resets(), 2) << "one reset per attempt";
}

}  // namespace
}  // namespace cfgsync

#include "s3/retry.h"

#include <gtest/gtest.h>

namespace cfgsync::s3 {
namespace {

const WallTime kNow = std::chrono::system_clock::from_time_t(1'780'000'000);

TEST(RetryAfter, ReadsSecondsAndCapsThem) {
  EXPECT_EQ(ParseRetryAfter("2", kNow), Millis(2000));
  EXPECT_EQ(ParseRetryAfter(" 0 ", kNow), Millis(0));
  EXPECT_EQ(ParseRetryAfter("3600", kNow), kMaxRetryAfter);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", kNow), kMaxRetryAfter);
}

TEST(RetryAfter, ReadsHttpDates) {
  auto when = kNow + std::chrono::seconds(12);
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  char buf[64];
  (void)std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&t));
  EXPECT_EQ(ParseRetryAfter(buf, kNow), Millis(12'000));
  EXPECT_EQ(ParseRetryAfter(buf, kNow + std::chrono::seconds(60)), Millis(0));
  EXPECT_EQ(ParseRetryAfter(buf, kNow - std::chrono::hours(2)), kMaxRetryAfter);
}

TEST(RetryAfter, IgnoresGarbage) {
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Wed, 99 Foo 2026 07:28:00 GMT", kNow), std::nullopt);
}

TEST(RetryDelay, BacksOffExponentiallyWithJitterUpToTheCap) {
  std::mt19937_64 rng(7);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on failure
  for (int i = 0; i < 200; ++i) {
    Millis first = RetryDelay(1, Millis(200), Millis(10'000), std::nullopt, rng);
    EXPECT_GE(first, Millis(100));
    EXPECT_LE(first, Millis(200));
    Millis late = RetryDelay(30, Millis(200), Millis(10'000), std::nullopt, rng);
    EXPECT_GE(late, Millis(5'000));
    EXPECT_LE(late, Millis(10'000));
  }
}

TEST(RetryDelay, HonoursRetryAfterWithJitterAndCap) {
  std::mt19937_64 rng(7);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on failure
  bool varied = false;
  Millis prev{0};
  for (int i = 0; i < 200; ++i) {
    Millis d = RetryDelay(1, Millis(200), Millis(10'000), Millis(5'000), rng);
    EXPECT_GE(d, Millis(5'000));
    EXPECT_LE(d, Millis(5'500));
    varied |= i > 0 && d != prev;
    prev = d;
    Millis capped = RetryDelay(1, Millis(200), Millis(10'000), Millis(3'600'000), rng);
    EXPECT_GE(capped, kMaxRetryAfter);
    EXPECT_LE(capped, kMaxRetryAfter + kMaxRetryAfter / 10);
  }
  EXPECT_TRUE(varied);
}

}  // namespace
}  // namespace cfgsync::s3

#include "core/duration.h"

#include <gtest/gtest.h>

#include <string>

namespace cfgsync {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesUnits) {
  EXPECT_EQ(*ParseDuration("500ms", "--debounce"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("5s", "--x"), milliseconds(5000));
  EXPECT_EQ(*ParseDuration("1h", "--x"), milliseconds(3'600'000));
  EXPECT_EQ(*ParseDuration("1m30s", "--x"), milliseconds(90'000));
  EXPECT_EQ(*ParseDuration("0", "--x"), milliseconds(0));
  EXPECT_EQ(*ParseDuration("0s", "--x"), milliseconds(0));
}

TEST(DurationTest, RejectsGarbageNamingTheFlag) {
  for (const char* bad : {"", "5", "5x", "s", "-1s", "1.5s", "5s ", "99999999999999999h"}) {
    auto r = ParseDuration(bad, "--debounce");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
    EXPECT_NE(r.error().message.find("--debounce"), std::string::npos);
  }
}

TEST(DurationTest, AcceptsUpToOneYear) {
  EXPECT_EQ(*ParseDuration("8760h", "--interval"), kMaxDuration);
  EXPECT_EQ(*ParseDuration("8759h59m59s1000ms", "--interval"), kMaxDuration);
  EXPECT_EQ(*ParseDuration("525600m", "--interval"), kMaxDuration);
}

TEST(DurationTest, LongerThanOneYearIsAnErrorNamingFlagAndLimit) {
  for (const char* big : {"8760h1ms", "3000000h", "8761h", "31536000001ms", "9223372036854775807ms",
                          "99999999999999999999h", "8000h8000h", "1h8760h"}) {
    auto r = ParseDuration(big, "--interval");
    ASSERT_FALSE(r) << big;
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
    EXPECT_NE(r.error().message.find("--interval"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("8760h"), std::string::npos) << r.error().message;
  }
}

TEST(DurationTest, SumsOfManyTermsDoNotOverflow) {
  std::string many;
  for (int i = 0; i < 100; ++i) many += "2305843009213693951ms";
  auto r = ParseDuration(many, "--x");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("limit"), std::string::npos);
}

TEST(DurationTest, SignsAreNotNumbers) {
  for (const char* bad : {"+1s", "1s-1s", "1s+1s", "--1s", " 1s"}) {
    EXPECT_FALSE(ParseDuration(bad, "--x")) << bad;
  }
}

TEST(DurationTest, FormatsRoundTrip) {
  for (int ms : {0, 1, 500, 1000, 90'000, 3'600'000, 3'723'000}) {
    auto text = FormatDuration(milliseconds(ms));
    EXPECT_EQ(*ParseDuration(text, "x"), milliseconds(ms)) << text;
  }
}

}  // namespace
}  // namespace cfgsync

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

TEST(DurationTest, SumsBeyondTheLimitAreRejected) {
  // Each term is within the limit (a quarter of the int64 range in ms); the sums are not.
  const std::string term = "640511947003h";
  EXPECT_TRUE(ParseDuration(term, "--interval"));
  EXPECT_FALSE(ParseDuration(term + "1h", "--interval"));
  EXPECT_FALSE(ParseDuration(term + term + term + term + term, "--interval"));
}

TEST(DurationTest, FormatsRoundTrip) {
  for (int ms : {0, 1, 500, 1000, 90'000, 3'600'000, 3'723'000}) {
    auto text = FormatDuration(milliseconds(ms));
    EXPECT_EQ(*ParseDuration(text, "x"), milliseconds(ms)) << text;
  }
}

}  // namespace
}  // namespace cfgsync

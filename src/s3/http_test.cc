#include "s3/http.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace cfgsync::s3 {
namespace {

TEST(TransferDeadline, TwoStallsPlusTheBytesAtTheMinimumRate) {
  EXPECT_EQ(TransferDeadline(0, Millis(30'000), 1024), Millis(60'000));
  EXPECT_EQ(TransferDeadline(10'240, Millis(30'000), 1024), Millis(70'000));
  EXPECT_EQ(TransferDeadline(10'241, Millis(30'000), 1024), Millis(71'000));
  EXPECT_EQ(TransferDeadline(16ull << 20, Millis(2'000), 1024), Millis(4'000 + 16'384'000));
}

TEST(TransferDeadline, NeverOverflows) {
  Millis huge = TransferDeadline(UINT64_MAX, Millis(30'000), 1);
  EXPECT_GT(huge, Millis(0));
  EXPECT_GT(huge, TransferDeadline(1ull << 40, Millis(30'000), 1));
  EXPECT_EQ(TransferDeadline(100, Millis(1'000), 0), Millis(2'000 + 100'000));
}

}  // namespace
}  // namespace cfgsync::s3

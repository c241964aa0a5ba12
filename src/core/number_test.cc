#include "core/number.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace cfgsync {
namespace {

TEST(ParseUnsignedTest, AcceptsWholeDecimalNumbersInRange) {
  EXPECT_EQ(ParseUnsigned<std::uint64_t>("0"), 0u);
  EXPECT_EQ(ParseUnsigned<std::uint64_t>("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseUnsigned<std::uint32_t>("4294967295"), UINT32_MAX);
  EXPECT_EQ(ParseUnsigned<std::uint16_t>("65535"), 65535u);
}

TEST(ParseUnsignedTest, RejectsOverflowInsteadOfThrowing) {
  EXPECT_EQ(ParseUnsigned<std::uint64_t>("18446744073709551616"), std::nullopt);
  EXPECT_EQ(ParseUnsigned<std::uint64_t>("99999999999999999999"), std::nullopt);
  EXPECT_EQ(ParseUnsigned<std::uint32_t>("4294967296"), std::nullopt);
  EXPECT_EQ(ParseUnsigned<std::uint16_t>("65536"), std::nullopt);
}

TEST(ParseUnsignedTest, RejectsAnythingButDigits) {
  for (const char* bad : {"", " 1", "1 ", "+1", "-1", "1x", "0x10", "1.0", "1e3"}) {
    EXPECT_EQ(ParseUnsigned<std::uint64_t>(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseUnsigned<std::uint64_t>(std::string_view("12\0", 3)), std::nullopt);
}

TEST(ParseUnsignedTest, ReadsOtherBases) {
  EXPECT_EQ(ParseUnsigned<std::uint32_t>("100644", 8), 0100644u);
  EXPECT_EQ(ParseUnsigned<std::uint32_t>("8", 8), std::nullopt);
  EXPECT_EQ(ParseUnsigned<std::uint64_t>("00000000a80425fb", 16), 0xa80425fbu);
  EXPECT_EQ(ParseUnsigned<std::uint64_t>("1ffffffffffffffff", 16), std::nullopt);
}

TEST(ParseSignedTest, AcceptsOneOptionalMinus) {
  EXPECT_EQ(ParseSigned<std::int64_t>("-1"), -1);
  EXPECT_EQ(ParseSigned<std::int64_t>("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseSigned<std::int64_t>("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"", "-", "--1", "+1", "1-", " 1", "9223372036854775808", "1.5"}) {
    EXPECT_EQ(ParseSigned<std::int64_t>(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace cfgsync

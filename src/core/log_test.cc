#include "core/log.h"

#include <gtest/gtest.h>

namespace cfgsync {
namespace {

// No byte below 0x20, nor DEL: nothing that ends a line or starts a terminal escape.
bool NoControlBytes(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

const std::string kHostile = "a\x1b]0;owned\x07\nts=1 level=error msg=forged\r\x7f.ini";

// A file name can neither forge a log line nor reach the terminal as an escape sequence.
TEST(FormatLogLineTest, ControlBytesNeverReachTheLine) {
  std::string line =
      FormatLogLine(false, "T", "warn",
                    WithFields("stat " + kHostile, {{"path", kHostile}, {"esc", "x\x1b[31my"}}));
  EXPECT_TRUE(NoControlBytes(line)) << line;
  EXPECT_NE(line.find("stat a\\x1b]0;owned\\x07\\x0ats=1"), std::string::npos) << line;
  EXPECT_NE(line.find("esc=x\\x1b[31my"), std::string::npos) << line;
  // Ordinary values stay as they were.
  EXPECT_EQ(
      FormatLogLine(false, "T", "info", WithFields("pushed", {{"path", "a b.ini"}, {"bytes", 3}})),
      "T info pushed bytes=3 path=\"a b.ini\"");
  // JSON lines escape them the JSON way, and the name comes back whole.
  std::string json =
      FormatLogLine(true, "T", "warn", WithFields("stat " + kHostile, {{"path", kHostile}}));
  for (unsigned char c : json) EXPECT_GE(c, 0x20) << json;
  auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed["path"], kHostile);
  EXPECT_EQ(parsed["msg"], "stat " + kHostile);
}

}  // namespace
}  // namespace cfgsync

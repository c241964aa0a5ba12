// What every fuzz target uses to state an invariant: a broken one aborts, which libFuzzer
// reports as a crash and saves the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace cfgsync::fuzz {

// Aborts with `what` on stderr unless `ok`.
inline void Require(bool ok, std::string_view what) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

// True when `s` holds no byte below 0x20 nor 0x7f: a one-line message safe for a terminal.
inline bool IsOneLine(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace cfgsync::fuzz

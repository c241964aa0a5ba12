// Durations as flags and CFGSYNC_* variables give them: whatever the text, ParseDuration
// answers a non-negative duration that FormatDuration writes back to the same value, or a
// kConfig error naming the flag.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "check.h"
#include "core/duration.h"

using cfgsync::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto d = cfgsync::ParseDuration(text, "--interval");
  if (!d) {
    Require(d.error().kind == cfgsync::ErrorKind::kConfig, "a bad duration is kConfig");
    Require(d.error().message.starts_with("--interval: "), "the error names the flag");
    return 0;
  }
  Require(d->count() >= 0, "a duration is never negative");
  std::string written = cfgsync::FormatDuration(*d);
  auto again = cfgsync::ParseDuration(written, "--interval");
  Require(again.has_value(), "FormatDuration's output parses");
  Require(*again == *d, "FormatDuration then ParseDuration gives the same duration");
  return 0;
}

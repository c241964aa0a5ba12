#include "core/duration.h"

#include <cctype>
#include <charconv>

namespace cfgsync {
namespace {

constexpr std::int64_t kMaxMillis = INT64_MAX / 4;

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text, std::string_view what) {
  auto bad = [&] {
    return Fail(ErrorKind::kConfig, std::string(what) + ": invalid duration \"" +
                                        std::string(text) + "\" (use e.g. 500ms, 5s, 1h)");
  };
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return bad();
  std::int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || p == rest.data() || n < 0) return bad();
    rest.remove_prefix(static_cast<std::size_t>(p - rest.data()));
    std::int64_t unit;
    if (rest.starts_with("ms")) {
      unit = 1, rest.remove_prefix(2);
    } else if (rest.starts_with("s")) {
      unit = 1000, rest.remove_prefix(1);
    } else if (rest.starts_with("m")) {
      unit = 60'000, rest.remove_prefix(1);
    } else if (rest.starts_with("h")) {
      unit = 3'600'000, rest.remove_prefix(1);
    } else {
      return bad();
    }
    // The total stays within a quarter of the range, so that callers may add it to a time.
    if (n > (kMaxMillis - total) / unit) return bad();
    total += n * unit;
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0";
  std::string out;
  auto take = [&](std::int64_t unit, const char* suffix) {
    if (ms >= unit) {
      out += std::to_string(ms / unit) + suffix;
      ms %= unit;
    }
  };
  take(3'600'000, "h");
  take(60'000, "m");
  if (ms % 1000 == 0) {
    take(1000, "s");
  } else {
    take(1, "ms");
  }
  return out;
}

}  // namespace cfgsync

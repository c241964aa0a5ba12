#include "core/duration.h"

#include <charconv>
#include <utility>

namespace cfgsync {
namespace {

constexpr std::int64_t kMaxMillis = INT64_MAX / 4;

}  // namespace

namespace {

// The unit at the start of `rest` in milliseconds, consumed; 0 for none.
std::int64_t TakeUnit(std::string_view& rest) {
  constexpr std::pair<std::string_view, std::int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  for (const auto& [name, ms] : kUnits) {
    if (rest.starts_with(name)) {
      rest.remove_prefix(name.size());
      return ms;
    }
  }
  return 0;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text, std::string_view what) {
  auto bad = [&] {
    return Fail(ErrorKind::kConfig, std::string(what) + ": invalid duration \"" +
                                        std::string(text) + "\" (use e.g. 500ms, 5s, 1h)");
  };
  auto too_long = [&] {
    return Fail(ErrorKind::kConfig, std::string(what) + ": \"" + std::string(text) +
                                        "\" is longer than the limit of " +
                                        FormatDuration(kMaxDuration) + " (one year)");
  };
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return bad();
  const std::int64_t limit = kMaxDuration.count();
  std::int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (p == rest.data() || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
      return bad();
    }
    rest.remove_prefix(static_cast<std::size_t>(p - rest.data()));
    const std::int64_t unit = TakeUnit(rest);
    if (unit == 0) return bad();
    // Each term, and the sum so far, stays within the limit: nothing can overflow.
    if (ec != std::errc() || n > static_cast<std::uint64_t>(limit / unit)) return too_long();
    total += static_cast<std::int64_t>(n) * unit;
    if (total > limit) return too_long();
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

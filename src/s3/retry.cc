#include "s3/retry.h"

#include <algorithm>
#include <string>

#include "core/number.h"
#include "s3/response_headers.h"

namespace cfgsync::s3 {

std::optional<Millis> ParseRetryAfter(std::string_view value, WallTime now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // Digits only: ParseUnsigned fails on overflow alone, which is over the cap too.
    auto seconds = ParseUnsigned<std::uint64_t>(value);
    if (!seconds || *seconds > static_cast<std::uint64_t>(kMaxRetryAfter.count() / 1000))
      return kMaxRetryAfter;
    return Millis(static_cast<std::int64_t>(*seconds) * 1000);
  }
  auto when = ParseHttpDate(value);
  if (!when) return std::nullopt;
  if (*when <= now) return Millis(0);
  return std::min<Millis>(kMaxRetryAfter, std::chrono::duration_cast<Millis>(*when - now));
}

Millis RetryDelay(int retry, Millis base, Millis max, std::optional<Millis> retry_after,
                  std::mt19937_64& rng) {
  const std::int64_t b = std::max<std::int64_t>(1, base.count());
  const std::int64_t cap = std::min<std::int64_t>(std::max<std::int64_t>(1, max.count()),
                                                  b << std::clamp(retry - 1, 0, 20));
  std::uniform_int_distribution<std::int64_t> backoff(cap / 2, cap);
  std::int64_t pause = backoff(rng);
  if (retry_after) {
    const std::int64_t asked =
        std::clamp<std::int64_t>(retry_after->count(), 0, kMaxRetryAfter.count());
    std::uniform_int_distribution<std::int64_t> jitter(0, asked / 10);
    pause = std::max(pause, asked + jitter(rng));
  }
  return Millis(pause);
}

}  // namespace cfgsync::s3

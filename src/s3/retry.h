// When to try a failed S3 request again: the server's Retry-After, capped, and our own backoff.
#pragma once

#include <optional>
#include <random>
#include <string_view>

#include "core/clock.h"

namespace cfgsync::s3 {

/* A server may ask for a long pause (Retry-After: 3600). Waiting that long would hold an init
 * container or a sidecar's pushes for an hour on one request; longer requests are waited for
 * this long, and the operation's retry budget decides whether to go on. */
inline constexpr Millis kMaxRetryAfter{30'000};

// The pause a Retry-After value asks for: delta-seconds ("120") or an HTTP date ("Wed, 21 Oct
// 2026 07:28:00 GMT", taken against `now`; a date in the past is no pause). nullopt when the
// value is neither (then the header is ignored).
std::optional<Millis> ParseRetryAfter(std::string_view value, WallTime now);

// The pause before retry number `retry` (1 for the first): exponential from `base`, capped at
// `max`, with jitter between half and all of it. When the server sent Retry-After, at least
// that (capped at kMaxRetryAfter) plus up to a tenth more as jitter, so clients told the same
// pause do not return at the same instant.
Millis RetryDelay(int retry, Millis base, Millis max, std::optional<Millis> retry_after,
                  std::mt19937_64& rng);

}  // namespace cfgsync::s3

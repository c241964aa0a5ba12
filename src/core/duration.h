// Durations as people write them on command lines: "500ms", "5s", "1h", "1m30s", "0".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/error.h"

namespace cfgsync {

// The longest duration any flag accepts: one year.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(8760);

// Parses a sequence of <number><unit> with units ms, s, m, h (and a bare "0"), summing the
// terms ("1m30s"). Returns kConfig naming `what` (the flag) on anything else, e.g.
// "--debounce: invalid duration \"5x\" (use e.g. 500ms, 5s, 1h)", and when a term or the sum
// is longer than kMaxDuration.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text, std::string_view what);

// Formats a duration the way ParseDuration reads it ("1h", "500ms", "1m30s").
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace cfgsync

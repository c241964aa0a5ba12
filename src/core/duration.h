// Durations as people write them on command lines: "500ms", "5s", "1h", "1m30s", "0".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/error.h"

namespace cfgsync {

// Parses a sequence of <number><unit> with units ms, s, m, h (and a bare "0"). Returns
// kConfig naming `what` (the flag) on anything else, e.g.
// "--debounce: invalid duration \"5x\" (use e.g. 500ms, 5s, 1h)".
Result<std::chrono::milliseconds> ParseDuration(std::string_view text, std::string_view what);

// Formats a duration the way ParseDuration reads it ("1h", "500ms", "1m30s").
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace cfgsync

// Logging set-up: one stderr logger (spdlog), one line per event.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace cfgsync {

// Configures the default logger. `level`: trace, debug, info, warn, error, off. An unknown level
// is kConfig naming the flag.
Status SetupLogging(std::string_view level);

}  // namespace cfgsync

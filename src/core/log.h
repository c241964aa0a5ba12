// Logging set-up: one stderr logger (spdlog), one line per event, as text or as JSON objects.
//
// Structured fields ride inside the message: WithFields() appends them after a separator byte
// that the formatter turns into " key=value" pairs (text) or extra members (JSON), so ordinary
// spdlog calls keep working in both formats.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"

namespace cfgsync {

// Configures the default logger. `level`: trace, debug, info, warn, error, off; `format`: text
// or json (one object per line with ts, level, msg and the event's fields). Unknown values are
// kConfig naming the flag.
Status SetupLogging(std::string_view level, std::string_view format);

using LogField = std::pair<std::string_view, nlohmann::json>;

// `msg` carrying `fields` for the formatter, e.g.
// spdlog::info(WithFields("pushed", {{"path", rel}, {"bytes", n}})).
std::string WithFields(std::string_view msg, std::initializer_list<LogField> fields);

// True when SetupLogging chose JSON.
bool LogJson();

// The current time as log lines show it ("2026-11-26T05:51:43.272Z").
std::string LogTimestamp();

// Formats one log line; exposed for tests. `payload` is what WithFields built (or plain text).
std::string FormatLogLine(bool json, std::string_view ts, std::string_view level,
                          std::string_view payload);

}  // namespace cfgsync

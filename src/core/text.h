// Small text helpers: names that come from outside (file names, keys) made safe to print, and
// ASCII case folding for protocol tokens (header names, flag values). All are pure functions,
// safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace cfgsync {

// `s` with control bytes (0x00-0x1f, 0x7f) shown as \xNN, so a hostile name cannot forge lines
// or send terminal escapes.
std::string Printable(std::string_view s);

// Printable(s) between double quotes, for naming a value inside a message.
std::string Quoted(std::string_view s);

// `s` with ASCII A-Z turned into a-z; every other byte (UTF-8 included) unchanged, whatever the
// locale.
std::string AsciiLower(std::string_view s);

// `s` with ASCII a-z turned into A-Z; every other byte unchanged, whatever the locale.
std::string AsciiUpper(std::string_view s);

// Whether `a` and `b` are equal when ASCII letters are compared without case.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace cfgsync

// Text shown to people: names that come from outside (file names, keys) made safe to print.
#pragma once

#include <string>
#include <string_view>

namespace cfgsync {

// `s` with control bytes (0x00-0x1f, 0x7f) shown as \xNN, so a hostile name cannot forge lines
// or send terminal escapes.
std::string Printable(std::string_view s);

}  // namespace cfgsync

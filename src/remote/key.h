// Rules for turning object keys into relative file paths without escaping the target folder.
#pragma once

#include <string_view>

#include "core/error.h"

namespace cfgsync {

// Checks that `key` is a safe relative path: not empty, no leading '/', no empty, "." or ".."
// segments, no NUL byte, and (unless allow_control) no other control byte (0x01-0x1f, 0x7f).
// Returns kInvalidArgument naming the fault otherwise.
Status CheckSafeKey(std::string_view key, bool allow_control);

// Joins a root prefix ("app/config", may be empty) and a relative key with one '/'.
std::string JoinKey(std::string_view prefix, std::string_view key);

}  // namespace cfgsync

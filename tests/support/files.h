// File helpers shared by the unit and integration tests.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace cfgsync::testing {

// Writes `content` to `path` (creating its folders, replacing any file there); a failed write
// fails the calling test.
void WriteFile(const std::filesystem::path& path, std::string_view content);

// The whole content of `path`; "" when it cannot be read.
std::string ReadFile(const std::filesystem::path& path);

}  // namespace cfgsync::testing

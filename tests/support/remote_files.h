// Test conveniences over the streaming Remote: upload a file by path, download into a file.
#pragma once

#include <filesystem>
#include <string_view>

#include "remote/remote.h"

namespace cfgsync::testing {

// Opens `src` as the product does (OpenForRead, one fstat) and Puts it under `key`. Missing
// file: kNotFound; not a regular file: kInvalidArgument; otherwise what Put returns.
Result<ObjectInfo> PutFile(Remote& remote, const std::filesystem::path& src, std::string_view key,
                           const FileMeta& meta, const CallOptions& opts = {});

// Creates or truncates `dest` (mode 0600) and Gets `key` into it; a failed Get removes a
// `dest` it created. Create failure: kIo or kNotFound; otherwise what Get returns.
Result<ObjectInfo> GetFile(Remote& remote, std::string_view key, const std::filesystem::path& dest,
                           const CallOptions& opts = {});

}  // namespace cfgsync::testing

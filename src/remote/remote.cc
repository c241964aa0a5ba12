#include "remote/remote.h"

#include <algorithm>
#include <string>

#include "core/hash.h"

namespace cfgsync {

bool IsMd5Etag(std::string_view etag) {
  return etag.size() == 32 &&
         std::ranges::all_of(etag, [](char c) { return HexDigitValue(c) >= 0; });
}

std::optional<std::string> StoredMd5(std::string_view etag, const std::optional<FileMeta>& meta) {
  if (meta && meta->md5_hex) return meta->md5_hex;
  if (IsMd5Etag(etag)) return std::string(etag);
  return std::nullopt;
}

std::optional<std::string> StoredMd5(const ObjectInfo& o) { return StoredMd5(o.etag, o.meta); }

Status Remote::ListVersions(std::string_view, const VersionSink&, const CallOptions&) {
  return Fail(ErrorKind::kUnsupported, "list versions: " + Describe() + " keeps no versions");
}

}  // namespace cfgsync

#include "remote/remote.h"

#include <algorithm>
#include <cctype>

namespace cfgsync {

bool IsMd5Etag(std::string_view etag) {
  return etag.size() == 32 && std::all_of(etag.begin(), etag.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

Status Remote::ListVersions(std::string_view, const VersionSink&, const CallOptions&) {
  return Fail(ErrorKind::kUnsupported, "list versions: " + Describe() + " keeps no versions");
}

}  // namespace cfgsync

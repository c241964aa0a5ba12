#include "s3/versions.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/text.h"

namespace cfgsync::s3 {

std::vector<ObjectVersion> VersionsOfPage(std::vector<VersionEntry> entries,
                                          std::string_view strip) {
  std::vector<ObjectVersion> out;
  out.reserve(entries.size());
  for (auto& e : entries) {
    if (!e.key.starts_with(strip)) continue;
    out.push_back(ObjectVersion{e.key.substr(strip.size()), std::move(e.version_id),
                                e.last_modified, e.size, std::move(e.etag), e.is_latest,
                                e.delete_marker});
  }
  std::ranges::stable_sort(out, [](const ObjectVersion& a, const ObjectVersion& b) {
    if (a.key != b.key) return a.key < b.key;
    if (a.is_latest != b.is_latest) return a.is_latest;
    return a.modified > b.modified;
  });
  return out;
}

Status CheckServedVersion(std::string_view what, std::string_view requested,
                          std::string_view answered) {
  if (answered == requested || (answered.empty() && requested == "null")) return {};
  if (answered.empty()) {
    return Fail(ErrorKind::kUnsupported, std::string(what) +
                                             ": the server answered without naming version " +
                                             Printable(requested) + ": it keeps no versions");
  }
  return Fail(ErrorKind::kProtocol, std::string(what) + ": asked for version " +
                                        Printable(requested) + ", the server sent version " +
                                        Printable(answered));
}

}  // namespace cfgsync::s3

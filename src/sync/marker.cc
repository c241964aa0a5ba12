#include "sync/marker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/fs.h"

namespace cfgsync {

Status WriteMarker(const std::filesystem::path& dir, const std::string& remote_id,
                   std::optional<std::pair<uid_t, gid_t>> owner) {
  if (ReadMarker(dir) == remote_id) return {};
  const std::filesystem::path target = dir / kMarkerName;
  const std::filesystem::path tmp = TempPathFor(target);
  nlohmann::json body = {{"remote", remote_id},
                         {"note", "written by cfgsync: this folder holds a copy of that remote"}};
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return std::unexpected(ErrnoError("create", tmp));
  Status ok = WriteAll(fd.get(), body.dump() + "\n");
  if (ok && owner && ::fchown(fd.get(), owner->first, owner->second) != 0) {
    ok = std::unexpected(ErrnoError("chown", tmp));
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return ok;
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    auto err = ErrnoError("rename", target);
    ::unlink(tmp.c_str());
    return std::unexpected(err);
  }
  return {};
}

std::optional<std::string> ReadMarker(const std::filesystem::path& dir) {
  std::ifstream in(dir / kMarkerName);
  if (!in) return std::nullopt;
  auto body = nlohmann::json::parse(in, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("remote") ||
      !body["remote"].is_string()) {
    return std::nullopt;
  }
  return body["remote"].get<std::string>();
}

}  // namespace cfgsync

#include "support/remote_files.h"

#include <fcntl.h>

#include "core/fs.h"

namespace cfgsync::testing {

Result<ObjectInfo> PutFile(Remote& remote, const std::filesystem::path& src, std::string_view key,
                           const FileMeta& meta, const CallOptions& opts) {
  auto fd = OpenForRead(src);
  if (!fd) return std::unexpected(fd.error().With("put " + std::string(key)));
  auto source = FdSource::FromFd(fd->get());
  if (!source) return std::unexpected(source.error());
  return remote.Put(key, *source, meta, opts);
}

Result<ObjectInfo> GetFile(Remote& remote, std::string_view key, const std::filesystem::path& dest,
                           const CallOptions& opts) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(dest, ec);
  UniqueFd fd(::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return std::unexpected(ErrnoError("create", dest));
  FdSink sink(fd.get());
  auto got = remote.Get(key, sink, opts);
  if (!got && !existed) std::filesystem::remove(dest, ec);
  return got;
}

}  // namespace cfgsync::testing

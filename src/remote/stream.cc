#include "remote/stream.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/hash.h"

namespace cfgsync {
namespace {

constexpr std::size_t kChunk = std::size_t{64} * 1024;

// Reads `length` bytes of `src` from `offset` chunk by chunk, handing each to `use`.
template <class Use>
Status ForEachChunk(const ByteSource& src, std::uint64_t offset, std::uint64_t length,
                    const std::stop_token& stop, Use&& use) {
  std::vector<char> buf(kChunk);
  for (std::uint64_t done = 0; done < length;) {
    if (auto ok = CheckStop(stop, "read"); !ok) return ok;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, length - done));
    auto n = src.ReadAt(offset + done, std::span<char>(buf.data(), want));
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return Fail(ErrorKind::kChanged, "the source is shorter than its size");
    if (auto ok = use(std::span<const char>(buf.data(), *n)); !ok) return ok;
    done += *n;
  }
  return {};
}

}  // namespace

Status CheckStop(const std::stop_token& stop, std::string_view what) {
  if (stop.stop_requested()) return Fail(ErrorKind::kCancelled, std::string(what) + ": cancelled");
  return {};
}

Result<FdSource> FdSource::FromFd(int fd) {
  auto v = VersionOf(fd);
  if (!v) return std::unexpected(v.error());
  return FdSource(fd, *v);
}

Result<std::size_t> FdSource::ReadAt(std::uint64_t offset, std::span<char> buf) const {
  if (offset >= version_.size || buf.empty()) return std::size_t{0};
  ssize_t got;
  do {
    got = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(offset));
  } while (got < 0 && errno == EINTR);
  if (got < 0) return Fail(ErrorKind::kIo, std::string("read: ") + std::strerror(errno));
  return static_cast<std::size_t>(got);
}

Status FdSource::CheckUnchanged() const {
  auto now = VersionOf(fd_);
  if (!now) return std::unexpected(now.error());
  if (*now != version_) return Fail(ErrorKind::kChanged, "the file changed while being read");
  return {};
}

Result<std::size_t> StringSource::ReadAt(std::uint64_t offset, std::span<char> buf) const {
  if (offset >= data_.size()) return std::size_t{0};
  std::size_t n = std::min<std::size_t>(buf.size(), data_.size() - offset);
  std::memcpy(buf.data(), data_.data() + offset, n);
  return n;
}

Status FdSink::Write(std::span<const char> data) {
  return WriteAll(fd_, std::string_view(data.data(), data.size()));
}

Status FdSink::Reset() {
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0)
    return Fail(ErrorKind::kIo, std::string("truncate download file: ") + std::strerror(errno));
  return {};
}

Result<Digest> DigestSource(const ByteSource& src, std::uint64_t offset, std::uint64_t length,
                            bool with_sha256) {
  Hasher md5(Hasher::Algo::kMd5), sha(Hasher::Algo::kSha256);
  auto ok = ForEachChunk(src, offset, length, {}, [&](std::span<const char> c) -> Status {
    std::string_view v(c.data(), c.size());
    md5.Update(v);
    if (with_sha256) sha.Update(v);
    return {};
  });
  if (!ok) return std::unexpected(ok.error());
  return Digest{HexEncode(md5.Final()), with_sha256 ? HexEncode(sha.Final()) : ""};
}

Result<std::string> CopySource(const ByteSource& src, ByteSink& sink, const std::stop_token& stop) {
  Hasher md5(Hasher::Algo::kMd5);
  auto ok = ForEachChunk(src, 0, src.Size(), stop, [&](std::span<const char> c) -> Status {
    md5.Update(std::string_view(c.data(), c.size()));
    return sink.Write(c);
  });
  if (!ok) return std::unexpected(ok.error());
  return HexEncode(md5.Final());
}

}  // namespace cfgsync

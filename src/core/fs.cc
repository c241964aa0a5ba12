#include "core/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "core/hash.h"

namespace cfgsync {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.Release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

Error ErrnoError(std::string_view what, const std::filesystem::path& path) {
  int e = errno;
  ErrorKind kind = (e == ENOENT || e == ENOTDIR) ? ErrorKind::kNotFound : ErrorKind::kIo;
  return Error{kind, std::string(what) + " " + path.string() + ": " + std::strerror(e)};
}

Result<UniqueFd> OpenForRead(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    if (errno == ELOOP)
      return Fail(ErrorKind::kInvalidArgument, "open " + path.string() + ": is a symlink");
    return std::unexpected(ErrnoError("open", path));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(ErrnoError("stat", path));
  if (!S_ISREG(st.st_mode)) {
    return Fail(ErrorKind::kInvalidArgument, "open " + path.string() + ": not a regular file");
  }
  return fd;
}

FileVersion VersionOf(const struct stat& st) {
  return FileVersion{static_cast<std::uint64_t>(st.st_size),
                     FileTime{st.st_mtim.tv_sec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec)},
                     FileTime{st.st_ctim.tv_sec, static_cast<std::uint32_t>(st.st_ctim.tv_nsec)},
                     static_cast<std::uint64_t>(st.st_ino)};
}

Result<FileVersion> VersionOf(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return Fail(ErrorKind::kIo, std::string("fstat: ") + std::strerror(errno));
  return VersionOf(st);
}

Result<Digest> DigestRange(int fd, std::uint64_t offset, std::uint64_t length, bool with_sha256) {
  Hasher md5(Hasher::Algo::kMd5);
  std::optional<Hasher> sha;
  if (with_sha256) sha.emplace(Hasher::Algo::kSha256);
  std::vector<char> buf(std::size_t{64} * 1024);
  std::uint64_t done = 0;
  while (done < length) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - done));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrorKind::kIo, std::string("read: ") + std::strerror(errno));
    if (n == 0) return Fail(ErrorKind::kChanged, "file shrank while being read");
    std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
    md5.Update(chunk);
    if (sha) sha->Update(chunk);
    done += static_cast<std::uint64_t>(n);
  }
  Digest d{HexEncode(md5.Final()), ""};
  if (sha) d.sha256_hex = HexEncode(sha->Final());
  return d;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrorKind::kIo, std::string("write: ") + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status FsyncDir(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return std::unexpected(ErrnoError("open folder", dir));
  if (::fsync(fd.get()) != 0) return std::unexpected(ErrnoError("fsync folder", dir));
  return {};
}

std::filesystem::path TempPathFor(const std::filesystem::path& target) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string name = std::string(kTempPrefix) + target.filename().string();
  if (name.size() > 200) name.resize(200);
  std::uint64_t r = rng();
  name += "." + HexEncode(std::string_view(reinterpret_cast<const char*>(&r), sizeof r));
  return target.parent_path() / name;
}

bool IsTempName(std::string_view name) { return name.starts_with(kTempPrefix); }

bool IsInternalName(std::string_view name) { return IsTempName(name) || name == kMarkerName; }

Status ApplyMeta(int fd, const FileMeta& meta, bool chown,
                 const std::filesystem::path& for_errors) {
  /* Mode and mtime first, while the file is still ours: once it belongs to someone else,
   * changing them needs CAP_FOWNER, and a restore given only CAP_CHOWN must still work. */
  if (meta.mode && ::fchmod(fd, *meta.mode & 07777) != 0) {
    return std::unexpected(ErrnoError("chmod", for_errors));
  }
  if (meta.mtime) {
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = meta.mtime->sec;
    ts[1].tv_nsec = meta.mtime->nsec;
    if (::futimens(fd, ts) != 0) return std::unexpected(ErrnoError("set mtime", for_errors));
  }
  if (chown && (meta.uid || meta.gid)) {
    uid_t u = meta.uid ? *meta.uid : static_cast<uid_t>(-1);
    gid_t g = meta.gid ? *meta.gid : static_cast<gid_t>(-1);
    if (::fchown(fd, u, g) != 0) return std::unexpected(ErrnoError("chown", for_errors));
    /* A change of owner clears set-user-ID and set-group-ID bits (for root too); putting them
     * back is the one step that needs CAP_FOWNER. */
    if (meta.mode && (*meta.mode & (S_ISUID | S_ISGID)) && ::fchmod(fd, *meta.mode & 07777) != 0) {
      return std::unexpected(ErrnoError("chmod", for_errors));
    }
  }
  return {};
}

Status MakeDirs(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(ErrorKind::kIo, "create folder " + dir.string() + ": " + ec.message());
  return {};
}

}  // namespace cfgsync

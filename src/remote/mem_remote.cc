#include "remote/mem_remote.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "core/fs.h"
#include "core/hash.h"

namespace cfgsync {

namespace {

Result<std::string> ReadWhole(int fd) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(ErrorKind::kIo, "read failed");
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

Status MemRemote::Enter(RemoteOp op) {
  ++calls_[op];
  if (bucket_missing_) return Fail(ErrorKind::kNoSuchBucket, "mem: no such bucket");
  return {};
}

Status MemRemote::CheckRoot() {
  std::lock_guard lock(mu_);
  return Enter(RemoteOp::kCheckRoot);
}

Result<std::vector<ObjectInfo>> MemRemote::List(std::string_view prefix) {
  std::lock_guard lock(mu_);
  if (auto ok = Enter(RemoteOp::kList); !ok) return std::unexpected(ok.error().With("list"));
  std::vector<ObjectInfo> out;
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && it->first.starts_with(prefix); ++it) {
    ObjectInfo info = it->second.info;
    info.meta.reset();
    out.push_back(std::move(info));
  }
  return out;
}

Status MemRemote::ListPages(std::string_view prefix, const PageSink& on_page) {
  auto all = List(prefix);
  if (!all) return std::unexpected(all.error());
  std::size_t n;
  {
    std::lock_guard lock(mu_);
    n = page_size_ == 0 ? std::max<std::size_t>(all->size(), 1) : page_size_;
  }
  /* The sink may block until its reader has worked through earlier pages with Get calls on
   * this remote, so no lock is held while calling it. */
  for (std::size_t at = 0; at < all->size() || at == 0; at += n) {
    if (at > 0) {
      std::lock_guard lock(mu_);
      if (auto ok = Enter(RemoteOp::kList); !ok) return std::unexpected(ok.error().With("list"));
    }
    auto end = all->begin() + static_cast<std::ptrdiff_t>(std::min(at + n, all->size()));
    std::vector<ObjectInfo> page(all->begin() + static_cast<std::ptrdiff_t>(at), end);
    if (auto ok = on_page(std::move(page)); !ok) return ok;
  }
  return {};
}

void MemRemote::SetPageSize(std::size_t n) {
  std::lock_guard lock(mu_);
  page_size_ = n;
}

Result<ObjectInfo> MemRemote::Stat(std::string_view key) {
  std::lock_guard lock(mu_);
  std::string ctx = "stat " + std::string(key);
  if (auto ok = Enter(RemoteOp::kStat); !ok) return std::unexpected(ok.error().With(ctx));
  auto it = objects_.find(key);
  if (it == objects_.end()) return Fail(ErrorKind::kNotFound, ctx + ": no such object");
  return it->second.info;
}

Result<ObjectInfo> MemRemote::Get(std::string_view key, const std::filesystem::path& dest) {
  std::lock_guard lock(mu_);
  std::string ctx = "get " + std::string(key);
  if (auto ok = Enter(RemoteOp::kGet); !ok) return std::unexpected(ok.error().With(ctx));
  auto it = objects_.find(key);
  if (it == objects_.end()) return Fail(ErrorKind::kNotFound, ctx + ": no such object");
  UniqueFd fd(::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return std::unexpected(ErrnoError("create", dest).With(ctx));
  if (auto ok = WriteAll(fd.get(), it->second.content); !ok)
    return std::unexpected(ok.error().With(ctx));
  return it->second.info;
}

Result<ObjectInfo> MemRemote::Put(const std::filesystem::path& src, std::string_view key,
                                  const FileMeta& meta) {
  std::string ctx = "put " + std::string(key);
  auto fd = OpenForRead(src);
  if (!fd) return std::unexpected(fd.error().With(ctx));
  auto before = VersionOf(fd->get());
  auto content = ReadWhole(fd->get());
  auto after = VersionOf(fd->get());
  if (!before || !content || !after) return Fail(ErrorKind::kIo, ctx + ": read failed");
  if (*before != *after) return Fail(ErrorKind::kChanged, ctx + ": source changed while read");
  std::lock_guard lock(mu_);
  if (auto ok = Enter(RemoteOp::kPut); !ok) return std::unexpected(ok.error().With(ctx));
  std::string md5 = HexEncode(Md5(*content));
  FileMeta stored = meta;
  stored.md5_hex = md5;
  ObjectInfo info{std::string(key), content->size(), md5, std::chrono::system_clock::now(), stored};
  objects_[std::string(key)] = Object{std::move(*content), info};
  return info;
}

Status MemRemote::Remove(std::span<const std::string> keys) {
  std::lock_guard lock(mu_);
  if (auto ok = Enter(RemoteOp::kRemove); !ok) return std::unexpected(ok.error().With("remove"));
  for (const auto& k : keys) objects_.erase(k);
  return {};
}

void MemRemote::Seed(std::string key, std::string content, FileMeta meta) {
  std::lock_guard lock(mu_);
  std::string md5 = HexEncode(Md5(content));
  meta.md5_hex = md5;
  ObjectInfo info{key, content.size(), md5, std::chrono::system_clock::now(), meta};
  objects_[std::move(key)] = Object{std::move(content), std::move(info)};
}

std::optional<std::string> MemRemote::Content(std::string_view key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.content;
}

void MemRemote::SetBucketMissing(bool missing) {
  std::lock_guard lock(mu_);
  bucket_missing_ = missing;
}

int MemRemote::Calls(RemoteOp op) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

void FaultRemote::SetHook(Hook hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

std::optional<Error> FaultRemote::Inject(RemoteOp op, std::string_view key) {
  Hook hook;
  {
    std::lock_guard lock(mu_);
    hook = hook_;
  }
  return hook ? hook(op, key) : std::nullopt;
}

Status FaultRemote::CheckRoot() {
  if (auto e = Inject(RemoteOp::kCheckRoot, "")) return std::unexpected(*e);
  return target_.CheckRoot();
}

Result<std::vector<ObjectInfo>> FaultRemote::List(std::string_view prefix) {
  if (auto e = Inject(RemoteOp::kList, prefix)) return std::unexpected(*e);
  return target_.List(prefix);
}

Status FaultRemote::ListPages(std::string_view prefix, const PageSink& on_page) {
  if (auto e = Inject(RemoteOp::kList, prefix)) return std::unexpected(*e);
  bool first = true;
  return target_.ListPages(prefix, [&](std::vector<ObjectInfo> page) -> Status {
    if (!std::exchange(first, false)) {
      if (auto e = Inject(RemoteOp::kList, prefix)) return std::unexpected(*e);
    }
    return on_page(std::move(page));
  });
}

Result<ObjectInfo> FaultRemote::Stat(std::string_view key) {
  if (auto e = Inject(RemoteOp::kStat, key)) return std::unexpected(*e);
  return target_.Stat(key);
}

Result<ObjectInfo> FaultRemote::Get(std::string_view key, const std::filesystem::path& dest) {
  if (auto e = Inject(RemoteOp::kGet, key)) return std::unexpected(*e);
  return target_.Get(key, dest);
}

Result<ObjectInfo> FaultRemote::Put(const std::filesystem::path& src, std::string_view key,
                                    const FileMeta& meta) {
  if (auto e = Inject(RemoteOp::kPut, key)) return std::unexpected(*e);
  return target_.Put(src, key, meta);
}

Status FaultRemote::Remove(std::span<const std::string> keys) {
  if (auto e = Inject(RemoteOp::kRemove, keys.empty() ? "" : std::string_view(keys.front()))) {
    return std::unexpected(*e);
  }
  return target_.Remove(keys);
}

}  // namespace cfgsync

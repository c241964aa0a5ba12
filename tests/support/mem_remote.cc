#include "support/mem_remote.h"

#include <algorithm>
#include <utility>

#include "core/hash.h"

namespace cfgsync {

Capabilities MemRemote::Caps() const {
  return Capabilities{.md5_in_listing = true,
                      .meta_in_listing = false,
                      .versions = versioned_,
                      .user_metadata = true};
}

Status MemRemote::Enter(RemoteOp op) {
  ++calls_[op];
  if (bucket_missing_) return Fail(ErrorKind::kNoSuchBucket, "mem: no such bucket");
  return {};
}

Status MemRemote::WaitWhileStalled(std::unique_lock<std::mutex>& lock, const std::stop_token& stop,
                                   std::string_view what) {
  stall_cv_.wait(lock, stop, [&] { return !stalled_; });
  return CheckStop(stop, what);
}

Status MemRemote::CheckRoot(const CallOptions& opts) {
  std::lock_guard lock(mu_);
  if (auto ok = CheckStop(opts.stop, "check root"); !ok) return ok;
  return Enter(RemoteOp::kCheckRoot);
}

Result<std::vector<ObjectInfo>> MemRemote::List(std::string_view prefix, const CallOptions& opts) {
  std::lock_guard lock(mu_);
  if (auto ok = CheckStop(opts.stop, "list"); !ok) return std::unexpected(ok.error());
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

Status MemRemote::ListPages(std::string_view prefix, const PageSink& on_page,
                            const CallOptions& opts) {
  auto all = List(prefix, opts);
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
      if (auto ok = CheckStop(opts.stop, "list"); !ok) return ok;
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

Result<ObjectInfo> MemRemote::Stat(std::string_view key, const CallOptions& opts) {
  std::lock_guard lock(mu_);
  std::string ctx = "stat " + std::string(key);
  if (auto ok = CheckStop(opts.stop, ctx); !ok) return std::unexpected(ok.error());
  if (auto ok = Enter(RemoteOp::kStat); !ok) return std::unexpected(ok.error().With(ctx));
  auto it = objects_.find(key);
  if (it == objects_.end()) return Fail(ErrorKind::kNotFound, ctx + ": no such object");
  return it->second.info;
}

Result<ObjectInfo> MemRemote::Get(std::string_view key, ByteSink& sink, const CallOptions& opts) {
  std::unique_lock lock(mu_);
  std::string ctx = "get " + std::string(key);
  if (auto ok = WaitWhileStalled(lock, opts.stop, ctx); !ok) return std::unexpected(ok.error());
  if (auto ok = Enter(RemoteOp::kGet); !ok) return std::unexpected(ok.error().With(ctx));
  if (!opts.version_id.empty()) {
    if (!versioned_) return Fail(ErrorKind::kUnsupported, ctx + ": mem: keeps no versions");
    auto got = GetVersion(key, opts.version_id, sink);
    if (!got) return std::unexpected(got.error().With(ctx));
    return got;
  }
  auto it = objects_.find(key);
  if (it == objects_.end()) return Fail(ErrorKind::kNotFound, ctx + ": no such object");
  const std::string& content = it->second.content;
  if (auto ok = sink.Write(std::span<const char>(content.data(), content.size())); !ok)
    return std::unexpected(ok.error().With(ctx));
  return it->second.info;
}

Result<ObjectInfo> MemRemote::GetVersion(std::string_view key, const std::string& id,
                                         ByteSink& sink) {
  auto it = versions_.find(key);
  if (it != versions_.end()) {
    for (const auto& v : it->second) {
      if (v.version.version_id != id) continue;
      if (v.version.delete_marker) return Fail(ErrorKind::kNotFound, "a delete marker");
      const std::string& content = v.object.content;
      if (auto ok = sink.Write(std::span<const char>(content.data(), content.size())); !ok)
        return std::unexpected(ok.error());
      return v.object.info;
    }
  }
  return Fail(ErrorKind::kNotFound, "no such version " + id);
}

Result<ObjectInfo> MemRemote::Put(std::string_view key, const ByteSource& src, const FileMeta& meta,
                                  const CallOptions& opts) {
  std::string ctx = "put " + std::string(key);
  StringSink content;
  auto md5 = CopySource(src, content, opts.stop);
  if (!md5) return std::unexpected(md5.error().With(ctx));
  if (auto ok = src.CheckUnchanged(); !ok) return std::unexpected(ok.error().With(ctx));
  std::unique_lock lock(mu_);
  if (auto ok = WaitWhileStalled(lock, opts.stop, ctx); !ok) return std::unexpected(ok.error());
  if (auto ok = Enter(RemoteOp::kPut); !ok) return std::unexpected(ok.error().With(ctx));
  FileMeta stored = meta;
  stored.md5_hex = *md5;
  ObjectInfo info{std::string(key), content.data().size(), *md5, std::chrono::system_clock::now(),
                  stored};
  Store(std::string(key), Object{content.data(), info});
  return info;
}

void MemRemote::Store(const std::string& key, Object object) {
  if (versioned_) {
    ObjectVersion v{key,
                    "v" + std::to_string(next_version_++),
                    object.info.modified,
                    object.info.size,
                    object.info.etag,
                    true,
                    false};
    versions_[key].push_back(Version{std::move(v), object});
  }
  objects_[key] = std::move(object);
}

Status MemRemote::ListVersions(std::string_view prefix, const VersionSink& on_page,
                               const CallOptions& opts) {
  std::vector<ObjectVersion> page;
  {
    std::lock_guard lock(mu_);
    if (auto ok = CheckStop(opts.stop, "list versions"); !ok) return ok;
    if (auto ok = Enter(RemoteOp::kListVersions); !ok)
      return std::unexpected(ok.error().With("list versions"));
    if (!versioned_) return Fail(ErrorKind::kUnsupported, "list versions: mem: keeps no versions");
    for (auto it = versions_.lower_bound(prefix);
         it != versions_.end() && it->first.starts_with(prefix); ++it) {
      for (auto v = it->second.rbegin(); v != it->second.rend(); ++v) {
        page.push_back(v->version);
        page.back().is_latest = v == it->second.rbegin();
      }
    }
  }
  return on_page(std::move(page));
}

Status MemRemote::Remove(std::span<const std::string> keys, const CallOptions& opts) {
  std::lock_guard lock(mu_);
  if (auto ok = CheckStop(opts.stop, "remove"); !ok) return ok;
  if (auto ok = Enter(RemoteOp::kRemove); !ok) return std::unexpected(ok.error().With("remove"));
  for (const auto& k : keys) {
    if (objects_.erase(k) == 0 || !versioned_) continue;
    ObjectVersion marker{
        k,   "v" + std::to_string(next_version_++), std::chrono::system_clock::now(), 0, "", true,
        true};
    versions_[k].push_back(Version{std::move(marker), {}});
  }
  return {};
}

void MemRemote::Seed(std::string key, std::string content, FileMeta meta) {
  std::lock_guard lock(mu_);
  std::string md5 = HexEncode(Md5(content));
  meta.md5_hex = md5;
  ObjectInfo info{key, content.size(), md5, std::chrono::system_clock::now(), meta};
  Store(key, Object{std::move(content), std::move(info)});
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

void MemRemote::SetStalled(bool stalled) {
  {
    std::lock_guard lock(mu_);
    stalled_ = stalled;
  }
  stall_cv_.notify_all();
}

int MemRemote::Calls(RemoteOp op) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

}  // namespace cfgsync

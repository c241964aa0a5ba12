#include "support/fault_remote.h"

#include <utility>

namespace cfgsync {

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

Status FaultRemote::CheckRoot(const CallOptions& opts) {
  if (auto e = Inject(RemoteOp::kCheckRoot, "")) return std::unexpected(*e);
  return target_.CheckRoot(opts);
}

Result<std::vector<ObjectInfo>> FaultRemote::List(std::string_view prefix,
                                                  const CallOptions& opts) {
  if (auto e = Inject(RemoteOp::kList, prefix)) return std::unexpected(*e);
  return target_.List(prefix, opts);
}

Status FaultRemote::ListPages(std::string_view prefix, const PageSink& on_page,
                              const CallOptions& opts) {
  if (auto e = Inject(RemoteOp::kList, prefix)) return std::unexpected(*e);
  bool first = true;
  return target_.ListPages(
      prefix,
      [&](std::vector<ObjectInfo> page) -> Status {
        if (!std::exchange(first, false)) {
          if (auto e = Inject(RemoteOp::kList, prefix)) return std::unexpected(*e);
        }
        return on_page(std::move(page));
      },
      opts);
}

Result<ObjectInfo> FaultRemote::Stat(std::string_view key, const CallOptions& opts) {
  if (auto e = Inject(RemoteOp::kStat, key)) return std::unexpected(*e);
  return target_.Stat(key, opts);
}

Result<ObjectInfo> FaultRemote::Get(std::string_view key, ByteSink& sink, const CallOptions& opts) {
  if (auto e = Inject(RemoteOp::kGet, key)) return std::unexpected(*e);
  return target_.Get(key, sink, opts);
}

Result<ObjectInfo> FaultRemote::Put(std::string_view key, const ByteSource& src,
                                    const FileMeta& meta, const CallOptions& opts) {
  if (auto e = Inject(RemoteOp::kPut, key)) return std::unexpected(*e);
  return target_.Put(key, src, meta, opts);
}

Status FaultRemote::ListVersions(std::string_view prefix, const VersionSink& on_page,
                                 const CallOptions& opts) {
  if (auto e = Inject(RemoteOp::kListVersions, prefix)) return std::unexpected(*e);
  return target_.ListVersions(prefix, on_page, opts);
}

Status FaultRemote::Remove(std::span<const std::string> keys, const CallOptions& opts) {
  if (auto e = Inject(RemoteOp::kRemove, keys.empty() ? "" : std::string_view(keys.front()))) {
    return std::unexpected(*e);
  }
  return target_.Remove(keys, opts);
}

}  // namespace cfgsync

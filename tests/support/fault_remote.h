// A Remote wrapper that injects failures (leveldb's ErrorEnv idea). A test double: only tests
// link it.
#pragma once

#include <functional>
#include <mutex>
#include <optional>

#include "remote/remote.h"
#include "support/mem_remote.h"

namespace cfgsync {

// Forwards to another Remote, failing calls chosen by a hook first. The hook sees the operation
// and key ("" for CheckRoot, the prefix for List and ListVersions, the first key for Remove) and
// returns the error to inject, or nullopt to forward the call. Capabilities are the target's.
class FaultRemote final : public Remote {
 public:
  using Hook = std::function<std::optional<Error>(RemoteOp op, std::string_view key)>;
  explicit FaultRemote(Remote& target) : target_(target) {}
  // Replaces the hook (thread-safe); an empty hook forwards everything.
  void SetHook(Hook hook);

  std::string Describe() const override { return target_.Describe(); }
  Capabilities Caps() const override { return target_.Caps(); }
  Status CheckRoot(const CallOptions& opts = {}) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix,
                                       const CallOptions& opts = {}) override;
  // The hook is consulted (as kList with the prefix) before each page is handed on.
  Status ListPages(std::string_view prefix, const PageSink& on_page,
                   const CallOptions& opts = {}) override;
  Result<ObjectInfo> Stat(std::string_view key, const CallOptions& opts = {}) override;
  Result<ObjectInfo> Get(std::string_view key, ByteSink& sink,
                         const CallOptions& opts = {}) override;
  Result<ObjectInfo> Put(std::string_view key, const ByteSource& src, const FileMeta& meta,
                         const CallOptions& opts = {}) override;
  Status ListVersions(std::string_view prefix, const VersionSink& on_page,
                      const CallOptions& opts = {}) override;
  Status Remove(std::span<const std::string> keys, const CallOptions& opts = {}) override;
  Result<std::size_t> AbortStaleUploads() override { return target_.AbortStaleUploads(); }

 private:
  std::optional<Error> Inject(RemoteOp op, std::string_view key);
  Remote& target_;
  std::mutex mu_;
  Hook hook_;
};

}  // namespace cfgsync

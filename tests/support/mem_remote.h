// An in-memory Remote for everything above the engine (leveldb's MemEnv idea). A test double:
// only tests link it.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "remote/remote.h"

namespace cfgsync {

// Which Remote method a call is.
enum class RemoteOp { kCheckRoot, kList, kStat, kGet, kPut, kRemove, kListVersions };

// A complete Remote kept in a map. Thread-safe. Honours every contract of Remote, including
// kNoSuchBucket when the bucket is marked missing, kChanged when the source changes while read
// and kCancelled when a call's stop is requested. In versioned mode (constructor argument) it
// keeps every Put as a version and every Remove as a delete marker, with ids "v1", "v2", ...
class MemRemote final : public Remote {
 public:
  explicit MemRemote(bool versioned = false) : versioned_(versioned) {}
  std::string Describe() const override { return "mem:"; }
  // md5 and no metadata in listings, metadata stored, versions when versioned.
  Capabilities Caps() const override;
  Status CheckRoot(const CallOptions& opts = {}) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix,
                                       const CallOptions& opts = {}) override;
  // Pages of SetPageSize() objects (all in one page by default); each page counts as a List call.
  Status ListPages(std::string_view prefix, const PageSink& on_page,
                   const CallOptions& opts = {}) override;
  Result<ObjectInfo> Stat(std::string_view key, const CallOptions& opts = {}) override;
  Result<ObjectInfo> Get(std::string_view key, ByteSink& sink,
                         const CallOptions& opts = {}) override;
  Result<ObjectInfo> Put(std::string_view key, const ByteSource& src, const FileMeta& meta,
                         const CallOptions& opts = {}) override;
  // Versioned mode: all versions in one page, by key then newest first.
  Status ListVersions(std::string_view prefix, const VersionSink& on_page,
                      const CallOptions& opts = {}) override;
  Status Remove(std::span<const std::string> keys, const CallOptions& opts = {}) override;

  // Splits ListPages() output into pages of `n` objects, as S3 does by 1000 (0: one page).
  void SetPageSize(std::size_t n);
  // Stores an object directly (test set-up), as if uploaded with `meta`.
  void Seed(std::string key, std::string content, FileMeta meta = {});
  // The stored content of `key`, or nullopt.
  std::optional<std::string> Content(std::string_view key) const;
  // Makes every call report a missing bucket (true) or work again (false).
  void SetBucketMissing(bool missing);
  // While stalled, Get and Put hang like a server that stopped answering, until their stop is
  // requested (kCancelled) or the stall is lifted.
  void SetStalled(bool stalled);
  // Number of calls of `op` so far.
  int Calls(RemoteOp op) const;

 private:
  struct Object {
    std::string content;
    ObjectInfo info;
  };
  struct Version {
    ObjectVersion version;
    Object object;  // empty for a delete marker
  };
  Status Enter(RemoteOp op);
  Status WaitWhileStalled(std::unique_lock<std::mutex>& lock, const std::stop_token& stop,
                          std::string_view what);
  void Store(const std::string& key, Object object);
  Result<ObjectInfo> GetVersion(std::string_view key, const std::string& id, ByteSink& sink);

  const bool versioned_;
  mutable std::mutex mu_;
  std::condition_variable_any stall_cv_;
  std::map<std::string, Object, std::less<>> objects_;
  std::map<std::string, std::vector<Version>, std::less<>> versions_;  // oldest first
  std::uint64_t next_version_ = 1;
  bool bucket_missing_ = false;
  bool stalled_ = false;
  std::size_t page_size_ = 0;
  std::map<RemoteOp, int> calls_;
};

}  // namespace cfgsync

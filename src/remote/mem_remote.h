// Test doubles for everything above the engine: an in-memory remote and a fault injector
// (leveldb's MemEnv / ErrorEnv idea).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "remote/remote.h"

namespace cfgsync {

// Which Remote method a call is.
enum class RemoteOp { kCheckRoot, kList, kStat, kGet, kPut, kRemove };

// A complete Remote kept in a map. Thread-safe. Honours every contract of Remote, including
// kNoSuchBucket when the bucket is marked missing and kChanged when the source changes while read.
class MemRemote final : public Remote {
 public:
  std::string Describe() const override { return "mem:"; }
  Status CheckRoot() override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  // Pages of SetPageSize() objects (all in one page by default); each page counts as a List call.
  Status ListPages(std::string_view prefix, const PageSink& on_page) override;
  Result<ObjectInfo> Stat(std::string_view key) override;
  Result<ObjectInfo> Get(std::string_view key, const std::filesystem::path& dest) override;
  Result<ObjectInfo> Put(const std::filesystem::path& src, std::string_view key,
                         const FileMeta& meta) override;
  Status Remove(std::span<const std::string> keys) override;

  // Splits ListPages() output into pages of `n` objects, as S3 does by 1000 (0: one page).
  void SetPageSize(std::size_t n);
  // Stores an object directly (test set-up), as if uploaded with `meta`.
  void Seed(std::string key, std::string content, FileMeta meta = {});
  // The stored content of `key`, or nullopt.
  std::optional<std::string> Content(std::string_view key) const;
  // Makes every call report a missing bucket (true) or work again (false).
  void SetBucketMissing(bool missing);
  // Number of calls of `op` so far.
  int Calls(RemoteOp op) const;

 private:
  struct Object {
    std::string content;
    ObjectInfo info;
  };
  Status Enter(RemoteOp op);
  mutable std::mutex mu_;
  std::map<std::string, Object, std::less<>> objects_;
  bool bucket_missing_ = false;
  std::size_t page_size_ = 0;
  std::map<RemoteOp, int> calls_;
};

// Forwards to another Remote, failing calls chosen by a hook first. The hook sees the operation
// and key ("" for CheckRoot, the prefix for List, the first key for Remove) and returns the error
// to inject, or nullopt to forward the call.
class FaultRemote final : public Remote {
 public:
  using Hook = std::function<std::optional<Error>(RemoteOp op, std::string_view key)>;
  explicit FaultRemote(Remote& target) : target_(target) {}
  // Replaces the hook (thread-safe); an empty hook forwards everything.
  void SetHook(Hook hook);

  std::string Describe() const override { return target_.Describe(); }
  Status CheckRoot() override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  // The hook is consulted (as kList with the prefix) before each page is handed on.
  Status ListPages(std::string_view prefix, const PageSink& on_page) override;
  Result<ObjectInfo> Stat(std::string_view key) override;
  Result<ObjectInfo> Get(std::string_view key, const std::filesystem::path& dest) override;
  Result<ObjectInfo> Put(const std::filesystem::path& src, std::string_view key,
                         const FileMeta& meta) override;
  Status Remove(std::span<const std::string> keys) override;

 private:
  std::optional<Error> Inject(RemoteOp op, std::string_view key);
  Remote& target_;
  std::mutex mu_;
  Hook hook_;
};

}  // namespace cfgsync

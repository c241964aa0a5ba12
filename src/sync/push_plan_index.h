// The index the push side keeps of the backup: per stored object, what planning and the
// watcher's single-path pushes compare, in a fixed-size entry.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "sync/push_plan.h"

namespace cfgsync {

/* A RemoteEntry holds two hex strings and four optionals: about 350 bytes a file with its key at
 * 100,000 files. This one holds the same facts in about 90 bytes: the hashes as 16 raw bytes,
 * the times as integers, presence as bits. Whatever the compact form cannot express (an etag
 * that is no lower-case MD5 hex, such as a multipart "…-2", or a stored MD5 in another form) is
 * kept as text beside it, so that Expand() always gives back exactly what was stored. */
class StoredEntry {
 public:
  StoredEntry() = default;
  // The compact form of `e`; Expand() returns an equal RemoteEntry.
  StoredEntry(const RemoteEntry& e);  // NOLINT(google-explicit-constructor): index_[k] = entry
  StoredEntry(const StoredEntry& o);
  StoredEntry(StoredEntry&&) noexcept = default;
  StoredEntry& operator=(const StoredEntry& o);
  StoredEntry& operator=(StoredEntry&&) noexcept = default;
  ~StoredEntry() = default;

  // The entry as planning reads it (allocates its strings).
  RemoteEntry Expand() const;

  std::uint64_t size() const { return size_; }
  // Whether the stored object's etag is `etag` (byte for byte).
  bool EtagIs(std::string_view etag) const;
  // Whether the entry knows the stored attributes (a listing of S3 does not carry them).
  bool HasMeta() const { return (flags_ & kMeta) != 0; }

 private:
  enum Flag : std::uint16_t {
    kMeta = 1,
    kMtime = 2,
    kMode = 4,
    kUid = 8,
    kGid = 16,
    kMd5 = 32,      // md5_ holds meta->md5_hex (lower-case hex, decoded)
    kEtagMd5 = 64,  // etag_ holds the etag (lower-case hex, decoded)
  };
  // Text the compact fields cannot express; absent for almost every entry.
  struct Odd {
    std::optional<std::string> etag;
    std::optional<std::string> md5;
  };

  std::uint64_t size_ = 0;
  std::int64_t modified_ns_ = 0;  // since the epoch
  std::int64_t mtime_sec_ = 0;
  std::uint32_t mtime_nsec_ = 0;
  std::uint32_t mode_ = 0;
  std::uint32_t uid_ = 0;
  std::uint32_t gid_ = 0;
  std::array<std::uint8_t, 16> md5_{};
  std::array<std::uint8_t, 16> etag_{};
  std::unique_ptr<Odd> odd_;
  std::uint16_t flags_ = 0;
};

// The index: key → what is stored, sorted by key (RemovePaths looks up folders by prefix).
using StoredIndex = std::map<std::string, StoredEntry, std::less<>>;

}  // namespace cfgsync

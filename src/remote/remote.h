// The storage engine's interface: everything above it (restore, sync, watch) talks to a Remote.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "remote/metadata.h"
#include "remote/stream.h"

namespace cfgsync {

// One stored object. Keys are relative to the remote's root (bucket/path), '/'-separated and
// byte-exact: whatever bytes a key holds come back unchanged.
struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;     // without quotes; an MD5 hex only when IsMd5Etag(etag)
  WallTime modified{};  // when the object was stored (S3 LastModified)
  // The file attributes stored with the object. Stat/Get/Put always fill it; List fills it only
  // where the backend has it without an extra request (the local remote does, S3 does not).
  std::optional<FileMeta> meta;
};

// One stored version of a key, or a delete marker (then size is 0 and etag empty).
struct ObjectVersion {
  std::string key;
  std::string version_id;
  WallTime modified{};
  std::uint64_t size = 0;
  std::string etag;  // without quotes
  bool is_latest = false;
  bool delete_marker = false;
};

// What a remote can do, for wrappers and planners to ask instead of guessing from the type.
struct Capabilities {
  // List's etag of an object uploaded in one part is the content MD5 hex.
  bool md5_in_listing = false;
  // List fills ObjectInfo::meta without a request per object.
  bool meta_in_listing = false;
  // ListVersions and Get of a version work (whether the bucket keeps older versions is the
  // bucket's own setting).
  bool versions = false;
  // The file attributes given to Put are stored with the object and returned by Stat/Get.
  bool user_metadata = false;
};

// True when `etag` is the plain MD5 hex of the content (single-part upload, no SSE-C/KMS).
bool IsMd5Etag(std::string_view etag);

// The content MD5 (hex) the remote holds for an object: its stored md5chksum attribute when it
// has one, else its ETag when that is a plain MD5 (IsMd5Etag); nullopt when neither tells.
std::optional<std::string> StoredMd5(std::string_view etag, const std::optional<FileMeta>& meta);
std::optional<std::string> StoredMd5(const ObjectInfo& o);

class Remote {
 public:
  virtual ~Remote() = default;

  // Human-readable location, e.g. "s3:backups/app" or "/backup/app". Holds no secret.
  virtual std::string Describe() const = 0;

  // What this remote supports. Constant for the remote's life.
  virtual Capabilities Caps() const = 0;

  /* Every call below takes CallOptions: a stop requested on its token ends the call with
   * kCancelled as soon as it can (see CallOptions). All methods are thread-safe. */

  // Checks that the root exists and is reachable with these credentials.
  // Missing bucket or root folder: kNoSuchBucket. Rejected credentials: kAuth.
  virtual Status CheckRoot(const CallOptions& opts = {}) = 0;

  // Every object whose key starts with `prefix` ("" for all), recursively, sorted by key.
  // An absent prefix is not an error: it yields an empty list. Missing bucket: kNoSuchBucket.
  virtual Result<std::vector<ObjectInfo>> List(std::string_view prefix,
                                               const CallOptions& opts = {}) = 0;

  // The same objects as List, handed to `on_page` a batch at a time as the server returns them,
  // so that a caller can start on the first keys while the rest is still being listed. Each page
  // is sorted by key, pages follow each other in key order. An error from `on_page` stops the
  // listing and is returned. Missing bucket: kNoSuchBucket, before any page. The default lists
  // everything first and makes it one page.
  using PageSink = std::function<Status(std::vector<ObjectInfo> page)>;
  virtual Status ListPages(std::string_view prefix, const PageSink& on_page,
                           const CallOptions& opts = {}) {
    auto all = List(prefix, opts);
    if (!all) return std::unexpected(all.error());
    return on_page(std::move(*all));
  }

  // One object's size, etag and stored attributes (meta is always set, possibly empty).
  // Missing object: kNotFound. Missing bucket: kNoSuchBucket.
  virtual Result<ObjectInfo> Stat(std::string_view key, const CallOptions& opts = {}) = 0;

  // Writes the object's content (opts.version_id: that version's) into `sink`, resetting it
  // before each retry. Content is verified against the stored MD5 when one is known. Missing
  // object or version: kNotFound. Missing bucket: kNoSuchBucket. A version asked of a remote
  // without versions: kUnsupported. On any error the sink may hold partial content.
  virtual Result<ObjectInfo> Get(std::string_view key, ByteSink& sink,
                                 const CallOptions& opts = {}) = 0;

  // Stores `src` under `key` with `meta`, replacing any existing object. The source is checked
  // unchanged (CheckUnchanged) after hashing, before anything is sent, and again at the end: a
  // change is kChanged, and the caller pushes again later. A change caught before sending
  // stores nothing; one during the transfer is rejected by servers that verify the signed
  // SHA-256 / Content-MD5. Missing bucket: kNoSuchBucket. Returns the stored object's info.
  virtual Result<ObjectInfo> Put(std::string_view key, const ByteSource& src, const FileMeta& meta,
                                 const CallOptions& opts = {}) = 0;

  // Every version and delete marker of the keys starting with `prefix`, a page at a time, each
  // page sorted by key then newest first. An error from `on_page` stops the listing and is
  // returned. Remotes without versions (Caps().versions false): kUnsupported.
  using VersionSink = std::function<Status(std::vector<ObjectVersion> page)>;
  virtual Status ListVersions(std::string_view prefix, const VersionSink& on_page,
                              const CallOptions& opts = {});

  // Deletes `keys` (batched internally). Keys that do not exist are not an error.
  // Missing bucket: kNoSuchBucket. Fails as a whole if any key could not be deleted.
  virtual Status Remove(std::span<const std::string> keys, const CallOptions& opts = {}) = 0;

  // Aborts the incomplete multipart uploads under the root that were started long enough ago
  // (S3: S3Config::stale_upload_age) that no upload still running can own them: those of a
  // process killed before it could abort them. Uploads this Remote is running are never
  // aborted. Returns how many it aborted; a server that does not list multipart uploads has
  // none. Backends without multipart uploads have none (the default).
  virtual Result<std::size_t> AbortStaleUploads() { return std::size_t{0}; }
};

}  // namespace cfgsync

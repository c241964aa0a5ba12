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

  // Checks that the root exists and is reachable with these credentials.
  // Missing bucket or root folder: kNoSuchBucket. Rejected credentials: kAuth.
  virtual Status CheckRoot() = 0;

  // Every object whose key starts with `prefix` ("" for all), recursively, sorted by key.
  // An absent prefix is not an error: it yields an empty list. Missing bucket: kNoSuchBucket.
  virtual Result<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;

  // The same objects as List, handed to `on_page` a batch at a time as the server returns them,
  // so that a caller can start on the first keys while the rest is still being listed. Each page
  // is sorted by key, pages follow each other in key order. An error from `on_page` stops the
  // listing and is returned. Missing bucket: kNoSuchBucket, before any page. The default lists
  // everything first and makes it one page.
  using PageSink = std::function<Status(std::vector<ObjectInfo> page)>;
  virtual Status ListPages(std::string_view prefix, const PageSink& on_page) {
    auto all = List(prefix);
    if (!all) return std::unexpected(all.error());
    return on_page(std::move(*all));
  }

  // One object's size, etag and stored attributes (meta is always set, possibly empty).
  // Missing object: kNotFound. Missing bucket: kNoSuchBucket.
  virtual Result<ObjectInfo> Stat(std::string_view key) = 0;

  // Streams the object's content into `dest` (created or truncated; the caller chooses a temporary
  // name and renames it). Content is verified against the stored MD5 when one is known. `dest`
  // is not fsynced: making it durable is the caller's call.
  // Missing object: kNotFound, and `dest` is left empty or absent. On any error `dest` may hold
  // partial content: never pass a real file name.
  virtual Result<ObjectInfo> Get(std::string_view key, const std::filesystem::path& dest) = 0;

  // Streams the local file `src` into `key` with `meta`, replacing any existing object. The
  // file is checked to be the same version (size, mtime, ctime, inode) after hashing, before
  // anything is sent, and again at the end: a change is kChanged, and the caller pushes again
  // later. A change caught before sending stores nothing; one during the transfer is rejected
  // by servers that verify the signed SHA-256 / Content-MD5. Missing `src`: kNotFound.
  // Missing bucket: kNoSuchBucket. Returns the stored object's info.
  virtual Result<ObjectInfo> Put(const std::filesystem::path& src, std::string_view key,
                                 const FileMeta& meta) = 0;

  // Deletes `keys` (batched internally). Keys that do not exist are not an error.
  // Missing bucket: kNoSuchBucket. Fails as a whole if any key could not be deleted.
  virtual Status Remove(std::span<const std::string> keys) = 0;

  // Aborts the incomplete multipart uploads under the root that were started long enough ago
  // (S3: S3Config::stale_upload_age) that no upload still running can own them: those of a
  // process killed before it could abort them. Uploads this Remote is running are never
  // aborted. Returns how many it aborted; a server that does not list multipart uploads has
  // none. Backends without multipart uploads have none (the default).
  virtual Result<std::size_t> AbortStaleUploads() { return std::size_t{0}; }
};

}  // namespace cfgsync

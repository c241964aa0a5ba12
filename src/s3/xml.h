// S3 request and response bodies: one parse function per response type, builders for the two
// XML request bodies, and the mapping from S3 errors to ErrorKind.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace cfgsync::s3 {

struct ListEntry {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;  // quotes stripped
  WallTime last_modified{};
};

struct ListPage {
  std::vector<ListEntry> entries;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation_token;  // non-empty whenever truncated
};

// One version of a key in a ListObjectVersions page: a stored object version, or a delete
// marker, which has no content (size 0, empty etag).
struct VersionEntry {
  std::string key;
  std::string version_id;  // "null" for an object stored while versioning was off
  bool is_latest = false;
  bool delete_marker = false;
  WallTime last_modified{};
  std::uint64_t size = 0;
  std::string etag;  // quotes stripped
};

struct ListVersionsPage {
  std::vector<VersionEntry> entries;  // <Version> and <DeleteMarker> elements in document order
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  // Where the next page starts (the key-marker and version-id-marker of the next request).
  // Both are non-empty whenever truncated, except that the version id marker may be empty when
  // the key marker is one of common_prefixes (a rolled-up prefix has no version to name).
  std::string next_key_marker;
  std::string next_version_id_marker;
};

struct MultipartUpload {
  std::string key;
  std::string upload_id;
  WallTime initiated{};
};

struct UploadsPage {
  std::vector<MultipartUpload> uploads;
  bool truncated = false;
  std::string next_key_marker;        // where the next page starts, when truncated
  std::string next_upload_id_marker;  // may be empty
};

struct S3ErrorBody {
  std::string code;
  std::string message;
  std::string key;
  std::string request_id;
};

struct DeleteFailure {
  std::string key;
  S3ErrorBody error;
};

struct DeleteResult {
  std::vector<std::string> deleted;
  std::vector<DeleteFailure> failures;
};

// Parses a ListObjectsV2 result page. With <EncodingType>url</EncodingType> the Key and Prefix
// values are decoded byte-exactly: %XX becomes that byte and '+' becomes a space, since S3 (like
// MinIO) form-encodes listings and writes a literal '+' as %2B. A truncated page without a
// NextContinuationToken, an entry without Key, Size or LastModified, or a malformed value is a
// kProtocol error naming "ListObjectsV2"; an <Error> document fails with its classified kind.
Result<ListPage> ParseListObjectsV2(std::string_view xml);

// Parses a ListObjectVersions result page. Entries keep the order of the document (S3 interleaves
// the versions and delete markers of a key, newest first; moto lists all <Version> elements
// before all <DeleteMarker> elements). With <EncodingType>url</EncodingType>, Key, Prefix and
// NextKeyMarker are decoded as ParseListObjectsV2 decodes them; version ids are never encoded.
// An entry without Key, VersionId, IsLatest or LastModified, a <Version> without Size, a bad
// value, or a truncated page without its next markers is a kProtocol error naming
// "ListObjectVersions"; an <Error> document fails with its classified kind. Pure function.
Result<ListVersionsPage> ParseListVersions(std::string_view xml);

// Parses a ListMultipartUploads result page (without encoding-type). An <Upload> without Key or
// UploadId, or a bad Initiated, is a kProtocol error naming "ListMultipartUploads"; a truncated
// page without NextKeyMarker too. An <Error> document fails with its classified kind.
Result<UploadsPage> ParseListMultipartUploads(std::string_view xml);

// The <Error> document of a failed request; nullopt when `xml` is empty, malformed or has another
// root element.
std::optional<S3ErrorBody> ParseErrorBody(std::string_view xml);

// The UploadId of an InitiateMultipartUpload result. A missing or empty UploadId is kProtocol;
// an <Error> document fails with its classified kind.
Result<std::string> ParseInitiateMultipartUpload(std::string_view xml);

// The ETag (quotes stripped) of a CompleteMultipartUpload result. S3 may answer 200 and still
// send an <Error> document: that fails with the kind ClassifyS3Error gives its code.
Result<std::string> ParseCompleteMultipartUpload(std::string_view xml);

// The keys deleted and the per-key failures of a DeleteObjects result.
Result<DeleteResult> ParseDeleteResult(std::string_view xml);

// The DeleteObjects request body in quiet mode for `keys`, in order. Keys are XML-escaped; tab,
// newline, carriage return and every other control byte (0x00-0x1F, 0x7F) are written as numeric
// character references so the exact bytes reach the server. Other bytes are copied unchanged, so
// keys must be valid UTF-8 for the body to be well-formed. S3 accepts 1 to 1000 keys per request.
std::string BuildDeleteRequest(std::span<const std::string> keys);

// The CompleteMultipartUpload request body for `parts` (part number, ETag with or without
// quotes), written in ascending part-number order with each ETag quoted.
std::string BuildCompleteMultipartUpload(std::span<const std::pair<int, std::string>> parts);

// The ErrorKind for an HTTP status and S3 error code ("" when the body had none). Known codes
// decide first (NoSuchKey, NoSuchBucket, auth codes, SlowDown, InternalError, RequestTimeout,
// PreconditionFailed, BadDigest...), then the status: 401/403 kAuth, 404 kNotFound, 408 and 5xx
// kTransient except 503 kThrottled, 412 kPrecondition, 429 kThrottled, anything else kProtocol.
ErrorKind ClassifyS3Error(int http_status, std::string_view code);

// Parses an ISO 8601 UTC timestamp as S3 writes it: "2009-10-12T17:50:30.000Z", with 0 to 9
// fraction digits and "Z" or a "+hh:mm"/"-hh:mm" offset. nullopt for anything else, and for
// years outside 1678 to 2261 (WallTime counts nanoseconds in 64 bits).
std::optional<WallTime> ParseIso8601(std::string_view s);

}  // namespace cfgsync::s3

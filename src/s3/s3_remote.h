// The S3 remote: path-style (default) or virtual-hosted addressing, SigV4, retries, multipart.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "remote/remote.h"
#include "s3/sigv4.h"

namespace cfgsync::s3 {

struct S3Config {
  std::string endpoint;  // "http://127.0.0.1:9000"; empty: https://s3.<region>.amazonaws.com
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;  // "" or "app/config": no leading or trailing '/'
  Credentials creds;
  bool path_style = true;  // false: https://<bucket>.<endpoint host>/key
  std::string ca_bundle;   // PEM file for TLS verification; "" uses the system store
  int transfers = 16;      // parallel connections kept for reuse
  std::uint64_t multipart_threshold = 64ull << 20;  // files at least this big use multipart
  std::uint64_t part_size = 16ull << 20;            // bounds memory per multipart transfer
  // Requests per operation, the first included: every request of one Get, Put (multipart
  // included) or Remove batch draws from this one budget.
  int max_attempts = 6;
  Millis base_backoff{200};
  Millis max_backoff{10'000};
  Millis connect_timeout{10'000};
  Millis stall_timeout{30'000};   // no answer, or under min_rate, this long: the request fails
  std::uint64_t min_rate = 1024;  // bytes a second (see HttpOptions)
  // Incomplete multipart uploads under the prefix older than this are aborted by
  // AbortStaleUploads (an upload of ours killed before it could abort itself).
  Millis stale_upload_age{3'600'000};
  Clock* clock = nullptr;  // nullptr: the real clock
};

// Returns an S3 remote for `config`. Does no I/O; the first request reports bad settings.
// Caps(): MD5 ETags in listings, stored metadata, and versions (ListObjectVersions, GET with
// versionId): a bucket that never had versioning lists each object once with version id
// "null"; a server without the versions API (s3rver) makes both calls kUnsupported.
std::unique_ptr<Remote> MakeS3Remote(S3Config config);

}  // namespace cfgsync::s3

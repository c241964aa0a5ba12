// AWS Signature Version 4 for the Authorization header (single-chunk payloads). Pure functions:
// the time is passed in, nothing is read from the environment.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace cfgsync::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless the credentials are temporary (STS)
};

using Headers = std::vector<std::pair<std::string, std::string>>;
using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct SigningRequest {
  std::string method;              // "GET"
  std::string canonical_uri;       // already URI-encoded path, e.g. "/bucket/a%20b.ini"
  QueryParams query;               // raw (not encoded) name/value pairs
  Headers headers;                 // must include "host"; names in any case
  std::string payload_sha256_hex;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// The canonical header block and the matching SignedHeaders list of a request.
struct CanonicalHeaderSet {
  std::string block;  // "name:value\n" per header: names lower-cased and sorted, values trimmed
  std::string signed_names;  // "host;range;x-amz-date"
};

// RFC 3986 percent-encoding as SigV4 requires: A-Z a-z 0-9 - . _ ~ are kept, every other byte
// becomes %XX with upper-case hex. '/' is kept when `encode_slash` is false (object key paths)
// and encoded when true (query names and values).
std::string UriEncode(std::string_view s, bool encode_slash);

// The canonical query string: names and values UriEncoded (slash included), pairs sorted by
// encoded name then encoded value, joined as "a=1&b=" ("" for no parameters). The result is also
// a valid query string to send.
std::string CanonicalQueryString(const QueryParams& query);

// Canonicalises every header in `headers`: names lower-cased, values with leading and trailing
// blanks removed and inner runs of blanks collapsed to one space, repeated names joined with ','
// in their original order, sorted by name.
CanonicalHeaderSet CanonicalHeaders(const Headers& headers);

// The canonical request text for `req`, signing every header in req.headers. An empty
// canonical_uri is treated as "/".
std::string CanonicalRequest(const SigningRequest& req);

// "20130524T000000Z" for `now` in UTC (whole seconds, truncated).
std::string AmzDate(WallTime now);

// "20130524/us-east-1/s3/aws4_request" from the first 8 characters of `amz_date`.
std::string CredentialScope(std::string_view amz_date, std::string_view region,
                            std::string_view service);

// The string to sign: algorithm, `amz_date`, `scope` and the hex SHA-256 of `canonical_request`,
// one per line.
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// The raw 32-byte signing key for `secret` on `date` ("20130524") in `region` for `service`.
std::string SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service);

// Signs `req` at time `now`. Sets x-amz-date, x-amz-content-sha256 (= req.payload_sha256_hex)
// and, when creds.session_token is non-empty, x-amz-security-token, replacing any header of
// those names (and any Authorization) already present. Signs every header then present and
// returns them all, in their original order and spelling, followed by the added headers and
// "Authorization". req.headers must contain "host" with the exact value that will be sent.
Headers SignV4(SigningRequest req, const Credentials& creds, std::string_view region, WallTime now,
               std::string_view service = "s3");

}  // namespace cfgsync::s3

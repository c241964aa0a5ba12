// S3 response headers: the header lines curl hands over, and the object attributes that a HEAD
// or GET response carries in them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "remote/remote.h"
#include "s3/http.h"

namespace cfgsync::s3 {

// One header line as curl delivers it ("Name: value\r\n"): the name lower-cased, the value
// without leading nor trailing blanks, CR and LF. nullopt for a status line ("HTTP/...")
// and for a line without ':'.
std::optional<std::pair<std::string, std::string>> ParseHeaderLine(std::string_view line);

// An HTTP date (RFC 7231 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", or with "UTC" or no
// zone); nullopt otherwise, and for years outside 1678 to 2261 (what WallTime holds).
std::optional<WallTime> ParseHttpDate(std::string_view value);

// `etag` without one pair of surrounding double quotes, when it has them.
std::string StripQuotes(std::string etag);

// The attributes of object `key` from a HEAD or GET response's headers (lower-case names, as
// HttpResponse holds them): size from Content-Length (0 when absent), ETag without quotes,
// modified from Last-Modified (the epoch when absent, unreadable or outside 1678 to 2261), meta
// from the x-amz-meta-* headers (DecodeMeta), whose MD5 falls back to an MD5 ETag. A Content-Length
// that is not a decimal number of at most 64 bits is kProtocol naming the key and the value.
// Stored attributes DecodeMeta leaves out are appended to `ignored` when given.
Result<ObjectInfo> ObjectInfoFromHeaders(std::string key, const HeaderList& headers,
                                         std::vector<IgnoredMeta>* ignored = nullptr);

}  // namespace cfgsync::s3

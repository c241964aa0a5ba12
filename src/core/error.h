// Error values shared by every layer: a kind that code branches on, and a message for people.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace cfgsync {

// What went wrong, in terms callers act on. Retry and exit-code decisions read only the kind,
// never the message text.
enum class ErrorKind {
  kNotFound,         // the object or file does not exist
  kNoSuchBucket,     // the bucket (or local remote root) does not exist
  kAuth,             // credentials rejected or access denied
  kThrottled,        // 429 or S3 SlowDown: back off and retry
  kTransient,        // 5xx or RequestTimeout: retry
  kNetwork,          // connect, DNS, TLS or transfer failure: retry
  kPrecondition,     // conditional request failed (412)
  kCorrupt,          // checksum mismatch on transfer: retry
  kChanged,          // a local file changed while it was being read: retry later
  kInvalidArgument,  // bad input (a hostile key, a malformed value)
  kConfig,           // missing or malformed setting: exit code 2
  kIo,               // local filesystem failure
  kUnreadable,       // a local file to back up cannot be read: the file is at fault, not the remote
  kProtocol,         // the server answered something we cannot parse or did not expect
  kCancelled,        // the caller asked the call to stop (a stop token): not retried
  kUnsupported,      // the remote cannot do this at all (versions on a remote without them)
};

struct Error {
  ErrorKind kind;
  std::string message;
  int http_status = 0;  // 0 when no HTTP exchange was involved

  // Returns a copy whose message is "context: message", keeping kind and status.
  Error With(std::string_view context) const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

// Builds the unexpected value for a Result/Status in one call.
inline std::unexpected<Error> Fail(ErrorKind kind, std::string message, int http_status = 0) {
  return std::unexpected(Error{kind, std::move(message), http_status});
}

// True for the kinds that a later attempt may cure: throttling, 5xx, network, checksum.
bool IsRetryable(ErrorKind kind);

// Stable lower-case name of a kind ("not_found"), for logs and metrics labels.
std::string_view KindName(ErrorKind kind);

}  // namespace cfgsync

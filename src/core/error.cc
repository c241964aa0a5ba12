#include "core/error.h"

namespace cfgsync {

Error Error::With(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  return e;
}

bool IsRetryable(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kThrottled:
    case ErrorKind::kTransient:
    case ErrorKind::kNetwork:
    case ErrorKind::kCorrupt:
      return true;
    default:
      return false;
  }
}

std::string_view KindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kNoSuchBucket:
      return "no_such_bucket";
    case ErrorKind::kAuth:
      return "auth";
    case ErrorKind::kThrottled:
      return "throttled";
    case ErrorKind::kTransient:
      return "transient";
    case ErrorKind::kNetwork:
      return "network";
    case ErrorKind::kPrecondition:
      return "precondition";
    case ErrorKind::kCorrupt:
      return "corrupt";
    case ErrorKind::kChanged:
      return "changed";
    case ErrorKind::kInvalidArgument:
      return "invalid_argument";
    case ErrorKind::kConfig:
      return "config";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kUnreadable:
      return "unreadable";
    case ErrorKind::kProtocol:
      return "protocol";
    case ErrorKind::kCancelled:
      return "cancelled";
    case ErrorKind::kUnsupported:
      return "unsupported";
  }
  return "unknown";
}

}  // namespace cfgsync

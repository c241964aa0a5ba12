// How tests print a Result in a failure message.
#pragma once

#include <expected>
#include <string>

#include "core/error.h"

namespace cfgsync::testing {

// "ok" for a value, else the error's kind and message ("network: put a.ini: ...").
template <class T>
std::string Text(const std::expected<T, Error>& r) {
  return r ? "ok" : std::string(KindName(r.error().kind)) + ": " + r.error().message;
}

}  // namespace cfgsync::testing

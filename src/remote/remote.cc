#include "remote/remote.h"

#include <algorithm>
#include <cctype>

namespace cfgsync {

bool IsMd5Etag(std::string_view etag) {
  return etag.size() == 32 && std::all_of(etag.begin(), etag.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

}  // namespace cfgsync

#include "remote/key.h"

#include <string>

#include "core/text.h"

namespace cfgsync {

Status CheckSafeKey(std::string_view key, bool allow_control) {
  auto bad = [&](std::string_view why) {
    return Fail(ErrorKind::kInvalidArgument, "unsafe key " + Quoted(key) + ": " + std::string(why));
  };
  if (key.empty()) return bad("empty");
  if (key.front() == '/') return bad("absolute path");
  for (unsigned char c : key) {
    if (c == 0) return bad("NUL byte");
    if (!allow_control && (c < 0x20 || c == 0x7f)) return bad("control character");
  }
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view seg = key.substr(start, end - start);
    if (seg.empty()) return bad("empty path segment");
    if (seg == "." || seg == "..") return bad("'" + std::string(seg) + "' segment");
    start = end + 1;
  }
  return {};
}

std::string JoinKey(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  std::string out(prefix);
  out += '/';
  out += key;
  return out;
}

}  // namespace cfgsync

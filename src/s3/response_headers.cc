#include "s3/response_headers.h"

#include <time.h>

#include <cctype>
#include <charconv>
#include <map>

namespace cfgsync::s3 {
namespace {

std::string_view Find(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); the epoch when unreadable or outside
// what WallTime holds (nanoseconds in 64 bits: 1677 to 2262).
WallTime ParseHttpDate(std::string_view text) {
  std::string s(text);
  struct tm tm = {};
  if (s.empty() || !strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm)) return WallTime{};
  if (tm.tm_year < 1678 - 1900 || tm.tm_year > 2261 - 1900) return WallTime{};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// A Content-Length value: decimal digits only, at most 64 bits.
std::optional<std::uint64_t> ParseLength(std::string_view s) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> ParseHeaderLine(std::string_view line) {
  if (line.starts_with("HTTP/")) return std::nullopt;
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' ||
                            value.back() == '\t')) {
    value.remove_suffix(1);
  }
  return std::pair{std::move(name), std::string(value)};
}

std::string StripQuotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

Result<ObjectInfo> ObjectInfoFromHeaders(std::string key, const HeaderList& headers) {
  ObjectInfo info;
  info.key = std::move(key);
  if (std::string_view len = Find(headers, "content-length"); !len.empty()) {
    auto size = ParseLength(len);
    if (!size) return Fail(ErrorKind::kProtocol, "invalid Content-Length header from the server");
    info.size = *size;
  }
  info.etag = StripQuotes(std::string(Find(headers, "etag")));
  info.modified = ParseHttpDate(Find(headers, "last-modified"));
  std::map<std::string, std::string> user;
  for (const auto& [k, v] : headers) {
    if (k.starts_with("x-amz-meta-")) user[k.substr(11)] = v;
  }
  info.meta = DecodeMeta(user);
  if (!info.meta->md5_hex && IsMd5Etag(info.etag)) info.meta->md5_hex = info.etag;
  return info;
}

}  // namespace cfgsync::s3

#include "s3/response_headers.h"

#include <time.h>

#include <map>

#include "core/number.h"
#include "core/text.h"

namespace cfgsync::s3 {
namespace {

std::string_view Find(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace

std::optional<std::pair<std::string, std::string>> ParseHeaderLine(std::string_view line) {
  if (line.starts_with("HTTP/")) return std::nullopt;
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string name = AsciiLower(line.substr(0, colon));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' ||
                            value.back() == '\t')) {
    value.remove_suffix(1);
  }
  return std::pair{std::move(name), std::string(value)};
}

std::optional<WallTime> ParseHttpDate(std::string_view value) {
  std::string s(value);
  struct tm tm = {};
  const char* end = s.empty() ? nullptr : strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!end) return std::nullopt;
  std::string_view rest(end);
  if (rest != " GMT" && rest != " UTC" && !rest.empty()) return std::nullopt;
  if (tm.tm_year < 1678 - 1900 || tm.tm_year > 2261 - 1900) return std::nullopt;
  const std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

std::string StripQuotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

Result<ObjectInfo> ObjectInfoFromHeaders(std::string key, const HeaderList& headers,
                                         std::vector<IgnoredMeta>* ignored) {
  ObjectInfo info;
  if (std::string_view len = Find(headers, "content-length"); !len.empty()) {
    auto size = ParseUnsigned<std::uint64_t>(len);
    if (!size) {
      return Fail(ErrorKind::kProtocol, Printable(key) + ": the server sent Content-Length \"" +
                                            Printable(len.substr(0, 40)) + "\", not a size");
    }
    info.size = *size;
  }
  info.key = std::move(key);
  info.etag = StripQuotes(std::string(Find(headers, "etag")));
  info.modified = ParseHttpDate(Find(headers, "last-modified")).value_or(WallTime{});
  std::map<std::string, std::string> user;
  for (const auto& [k, v] : headers) {
    if (k.starts_with("x-amz-meta-")) user[k.substr(11)] = v;
  }
  info.meta = DecodeMeta(user, ignored);
  info.meta->md5_hex = StoredMd5(info.etag, info.meta);
  return info;
}

}  // namespace cfgsync::s3

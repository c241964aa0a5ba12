// The header block of an S3 HEAD or GET response, one line per header as curl delivers them
// (a status line starts a new response). Whatever a server sends, the object's attributes come
// out well-formed (or the response is refused as kProtocol): a size that is the Content-Length
// written in decimal, an ETag without its quotes, attributes that encode and decode back to
// themselves; a Retry-After asks for a pause between 0 and the cap, and a Date is a time that
// WallTime holds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "remote/metadata.h"
#include "s3/response_headers.h"
#include "s3/retry.h"

namespace {

using cfgsync::fuzz::Require;
using cfgsync::s3::HeaderList;

HeaderList Collect(std::string_view in) {
  HeaderList headers;
  while (!in.empty()) {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl == std::string_view::npos ? in.size() : nl + 1);
    in.remove_prefix(line.size());
    if (line.starts_with("HTTP/")) headers.clear();
    auto field = cfgsync::s3::ParseHeaderLine(line);
    if (!field) continue;
    const auto& [name, value] = *field;
    Require(name.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ:") == std::string::npos,
            "names are lower-case, without ':'");
    Require(!value.starts_with(' ') && !value.starts_with('\t') && !value.ends_with(' ') &&
                !value.ends_with('\r') && !value.ends_with('\n'),
            "values are trimmed");
    Require(line.find(value) != std::string_view::npos, "the value comes from the line");
    headers.push_back(*field);
  }
  return headers;
}

std::string_view Find(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

void CheckTimes(const HeaderList& headers) {
  const cfgsync::WallTime now = std::chrono::system_clock::from_time_t(1'780'000'000);
  if (auto pause = cfgsync::s3::ParseRetryAfter(Find(headers, "retry-after"), now)) {
    Require(pause->count() >= 0 && *pause <= cfgsync::s3::kMaxRetryAfter,
            "a Retry-After pause is within 0 and the cap");
  }
  if (auto date = cfgsync::s3::ParseHttpDate(Find(headers, "date"))) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(date->time_since_epoch());
    Require(seconds.count() >= -9'224'000'000LL && seconds.count() <= 9'224'000'000LL,
            "an HTTP date is within what WallTime holds");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  HeaderList headers = Collect(std::string_view(reinterpret_cast<const char*>(data), size));
  CheckTimes(headers);
  auto info = cfgsync::s3::ObjectInfoFromHeaders("key", headers);
  if (!info) {
    Require(info.error().kind == cfgsync::ErrorKind::kProtocol, "a bad header is kProtocol");
    return 0;
  }
  Require(info->key == "key", "the key is kept");
  std::string_view length = Find(headers, "content-length");
  std::string_view digits = length.substr(std::min(length.find_first_not_of('0'), length.size()));
  Require(info->size == 0 ? digits.empty() : std::to_string(info->size) == digits,
          "the size is the Content-Length");
  Require(!(info->etag.size() >= 2 && info->etag.front() == '"' && info->etag.back() == '"') ||
              Find(headers, "etag").size() >= 4,
          "one pair of quotes is stripped");
  Require(info->meta.has_value(), "attributes are always filled");
  const cfgsync::FileMeta& meta = *info->meta;
  if (meta.mtime) Require(meta.mtime->nsec < 1'000'000'000, "nanoseconds in range");
  auto again = cfgsync::DecodeMeta(cfgsync::EncodeMeta(meta));
  if (meta.md5_hex && !again.md5_hex) {
    Require(false, "an MD5 taken from the ETag encodes");
  }
  again.md5_hex = meta.md5_hex;
  Require(again == meta, "the attributes encode and decode back to themselves");
  return 0;
}

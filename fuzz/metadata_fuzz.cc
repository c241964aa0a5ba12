// rclone metadata as an S3 bucket (anyone who can write it) hands it over: "name:value" lines
// become the x-amz-meta-* map. Whatever the values, DecodeMeta keeps only well-formed ones,
// EncodeMeta writes them so that DecodeMeta reads the same back, and ParseMtime accepts only
// plain decimals that FormatMtime writes back to the same instant.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "check.h"
#include "remote/metadata.h"

namespace {

using cfgsync::fuzz::Require;

// Whether `s` is an optional '-', digits, and optionally '.' and digits.
bool IsPlainDecimal(std::string_view s) {
  if (s.starts_with('-')) s.remove_prefix(1);
  auto dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  auto digits = [](std::string_view d) {
    return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
  };
  return digits(whole) && (dot == std::string_view::npos || digits(s.substr(dot + 1)));
}

// Whether the plain decimal `s` is below zero once cut to nine fraction digits, as ParseMtime
// documents.
bool IsBelowZero(std::string_view s) {
  if (!s.starts_with('-')) return false;
  auto dot = s.find('.');
  std::string_view kept = s.substr(1, dot == std::string_view::npos ? dot : dot + 9);
  return kept.find_first_not_of("0.") != std::string_view::npos;
}

void CheckMtime(std::string_view text) {
  auto t = cfgsync::ParseMtime(text);
  if (!t) return;
  Require(IsPlainDecimal(text), "ParseMtime accepts plain decimals only");
  Require(t->nsec < 1'000'000'000, "nanoseconds below one second");
  Require((t->sec < 0) == IsBelowZero(text), "the sign is kept");
  auto again = cfgsync::ParseMtime(cfgsync::FormatMtime(*t));
  Require(again && *again == *t, "FormatMtime then ParseMtime gives the same time");
}

std::map<std::string, std::string> Lines(std::string_view in) {
  std::map<std::string, std::string> user;
  while (!in.empty()) {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    user[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 1));
  }
  return user;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckMtime(in);
  auto user = Lines(in);
  for (const auto& [name, value] : user) CheckMtime(value);
  cfgsync::FileMeta meta = cfgsync::DecodeMeta(user);
  if (meta.mtime) Require(meta.mtime->nsec < 1'000'000'000, "decoded nanoseconds in range");
  if (meta.md5_hex) {
    Require(meta.md5_hex->size() == 32 &&
                meta.md5_hex->find_first_not_of("0123456789abcdef") == std::string::npos,
            "a decoded MD5 is 32 lower-case hex digits");
  }
  cfgsync::FileMeta again = cfgsync::DecodeMeta(cfgsync::EncodeMeta(meta));
  Require(again == meta, "EncodeMeta then DecodeMeta gives the same attributes");
  return 0;
}

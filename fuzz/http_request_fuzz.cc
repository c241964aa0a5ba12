// What a client of the health port sends, up to the end of its header section. Whatever the
// bytes, the end found is within them and on a line boundary, found again when the bytes come
// in pieces, and the parsed request is either refused with a 4xx/5xx status or a GET/HEAD with
// an absolute path of visible characters.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "obs/http_request.h"

namespace {

using cfgsync::fuzz::Require;

// The end found when `in` arrives in pieces of `step` bytes, as recv may deliver it.
std::size_t EndInPieces(std::string_view in, std::size_t step) {
  std::string got;
  while (got.size() < in.size()) {
    std::size_t scanned = got.size();
    got.append(in.substr(got.size(), step));
    if (std::size_t end = cfgsync::RequestHeaderEnd(got, scanned); end != 0) return end;
  }
  return 0;
}

void CheckHead(std::string_view head) {
  cfgsync::RequestHead h = cfgsync::ParseRequestHead(head);
  if (h.status != 0) {
    Require(h.status == 400 || h.status == 405 || h.status == 505, "a known refusal");
    return;
  }
  Require(h.method == "GET" || h.method == "HEAD", "only GET and HEAD are served");
  Require(h.path.starts_with('/'), "the routed path is absolute");
  Require(std::ranges::all_of(h.path, [](char c) { return c > 0x20 && c < 0x7f; }) &&
              h.path.find_first_of("?#") == std::string_view::npos,
          "the routed path is visible characters without query or fragment");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t end = cfgsync::RequestHeaderEnd(in, 0);
  Require(end <= in.size(), "the end is within the bytes");
  if (end == 0) {
    CheckHead(in);  // what a caller gets from a truncated section must be safe too
    return 0;
  }
  Require(in.substr(0, end).ends_with("\n\n") || in.substr(0, end).ends_with("\n\r\n"),
          "the section ends with a blank line");
  Require(cfgsync::RequestHeaderEnd(in.substr(0, end - 1), 0) == 0, "it is the first one");
  for (std::size_t step : {1, 2, 7}) {
    Require(EndInPieces(in, step) == end, "pieces find the same end");
  }
  CheckHead(in.substr(0, end));
  return 0;
}

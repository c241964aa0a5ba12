// The health server's reading of a request: where the header section ends, and what the
// request line and header fields ask for. Pure functions over the bytes a client sent.
#pragma once

#include <cstddef>
#include <string_view>

namespace cfgsync {

// What a complete header section asks for. `method` and `path` point into the parsed bytes.
struct RequestHead {
  int status = 0;           // 0 for a well-formed GET or HEAD; otherwise the error status to answer
  std::string_view method;  // set whenever the request line is well-formed
  std::string_view path;    // the target without query or fragment; set when status is 0
};

// Offset just past the blank line that ends the header section of `in`, or 0 while there is
// none. Bytes before `scanned` were searched already (pass the length before the last append);
// lines may end in CRLF or a bare LF. Never more than in.size().
std::size_t RequestHeaderEnd(std::string_view in, std::size_t scanned);

// Checks the request line and header fields of a complete header section (as delimited by
// RequestHeaderEnd) and decides the answer: status 400 for a malformed request line, header
// field (non-token name, obsolete line folding, control bytes other than tab in a value) or
// target, 505 for an HTTP version other than 1.x, 405 for a method other than GET and HEAD,
// and 0 with the path to route on otherwise. Origin-form ("/x?y") and absolute-form
// ("http://host/x") targets are accepted. Header values are not otherwise used.
RequestHead ParseRequestHead(std::string_view head);

}  // namespace cfgsync

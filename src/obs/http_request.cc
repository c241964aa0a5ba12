#include "obs/http_request.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "core/text.h"

namespace cfgsync {
namespace {

// Removes and returns the first line of `rest`, without its LF or CRLF.
std::string_view TakeLine(std::string_view& rest) {
  std::size_t lf = rest.find('\n');
  std::string_view line = rest.substr(0, lf);
  rest = lf == std::string_view::npos ? std::string_view() : rest.substr(lf + 1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

bool IsTchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) { return !s.empty() && std::ranges::all_of(s, IsTchar); }

bool IsVisible(char c) { return c > 0x20 && c < 0x7f; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "Name: value" with a token name (which also rejects obsolete line folding) and no control
// characters in the value other than tab.
bool IsValidField(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) return false;
  return std::ranges::all_of(line.substr(colon + 1), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return c == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

// The path to route on: the target without query or fragment. Origin-form ("/x?y") is what
// probes and scrapers send; absolute-form ("http://host/x") must be accepted too (RFC 9112).
std::optional<std::string_view> PathOf(std::string_view target) {
  if (!target.starts_with('/')) {
    std::size_t scheme = target.find("://");
    if (scheme == std::string_view::npos ||
        !(EqualsIgnoreCase(target.substr(0, scheme), "http") ||
          EqualsIgnoreCase(target.substr(0, scheme), "https"))) {
      return std::nullopt;
    }
    std::size_t path = target.find_first_of("/?#", scheme + 3);
    if (path == std::string_view::npos || target[path] != '/') return "/";
    target = target.substr(path);
  }
  return target.substr(0, target.find_first_of("?#"));
}

}  // namespace

std::size_t RequestHeaderEnd(std::string_view in, std::size_t scanned) {
  for (std::size_t i = scanned >= 2 ? scanned - 2 : 0; i < in.size(); ++i) {
    if (in[i] != '\n') continue;
    if (i + 1 < in.size() && in[i + 1] == '\n') return i + 2;
    if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') return i + 3;
  }
  return 0;
}

RequestHead ParseRequestHead(std::string_view rest) {
  RequestHead h, bad;
  bad.status = 400;
  std::string_view line = TakeLine(rest);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || target.empty() || !std::ranges::all_of(target, IsVisible) ||
      version.size() != 8 || !version.starts_with("HTTP/") || !IsDigit(version[5]) ||
      version[6] != '.' || !IsDigit(version[7])) {
    return bad;
  }
  for (std::string_view field = TakeLine(rest); !field.empty(); field = TakeLine(rest)) {
    if (!IsValidField(field)) return bad;
  }
  h.method = method;
  std::optional<std::string_view> path = PathOf(target);
  if (version[5] != '1') {
    h.status = 505;
  } else if (method != "GET" && method != "HEAD") {
    h.status = 405;
  } else if (!path) {
    h.status = 400;
  } else {
    h.path = *path;
  }
  return h;
}

}  // namespace cfgsync

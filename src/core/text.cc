#include "core/text.h"

#include <algorithm>

#include "core/hash.h"

namespace cfgsync {
namespace {

char LowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

char UpperChar(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b != 0x7F) {
      out += c;
    } else {
      out += "\\x";
      out += HexDigit(b >> 4);
      out += HexDigit(b & 0xF);
    }
  }
  return out;
}

std::string Quoted(std::string_view s) { return "\"" + Printable(s) + "\""; }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), LowerChar);
  return out;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), UpperChar);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return LowerChar(x) == LowerChar(y); });
}

}  // namespace cfgsync

// Numbers that come from outside (headers, metadata, listings, /proc, flags), parsed with
// checked conversions: the whole text must be the number, in range for its type. Never throws.
#pragma once

#include <charconv>
#include <concepts>
#include <optional>
#include <string_view>
#include <system_error>

namespace cfgsync {

// `text` as an unsigned integer in `base` (10, 16, 8...): digits only (no sign, no spaces, no
// "0x"), at least one, and the value fits in T. nullopt otherwise.
template <std::unsigned_integral T>
std::optional<T> ParseUnsigned(std::string_view text, int base = 10) {
  T value{};
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc() || p != end) return std::nullopt;
  return value;
}

// `text` as a signed decimal integer: an optional '-', then digits only; the value fits in T.
// nullopt otherwise ("+1", "--1", " 1", "" included).
template <std::signed_integral T>
std::optional<T> ParseSigned(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || p != end) return std::nullopt;
  return value;
}

}  // namespace cfgsync

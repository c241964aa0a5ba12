// Object keys from a listing, which whoever can write the bucket chooses. A key CheckSafeKey
// accepts stays inside the restore folder; a rejected one gets a one-line error that shows no
// raw control byte. Input: a prefix, a NUL byte, then the key (no NUL: the whole input is the
// key).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "check.h"
#include "remote/key.h"

namespace {

using cfgsync::fuzz::IsOneLine;
using cfgsync::fuzz::Require;

void CheckAccepted(std::string_view key, bool allow_control) {
  Require(!key.empty() && !key.starts_with('/') && !key.ends_with('/'), "a relative file path");
  Require(key.find('\0') == std::string_view::npos, "no NUL byte");
  Require(key.find("//") == std::string_view::npos, "no empty segment");
  if (!allow_control) {
    Require(IsOneLine(key), "no control byte unless allowed");
  }
  std::filesystem::path p = std::filesystem::path(std::string(key)).lexically_normal();
  Require(p.is_relative(), "stays relative");
  Require(!p.empty() && *p.begin() != "..", "never climbs out of the folder");
  Require(std::string_view(p.native()) == key, "already normal: no '.' or '..' segment");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view prefix, key = in;
  if (auto nul = in.find('\0'); nul != std::string_view::npos) {
    prefix = in.substr(0, nul);
    key = in.substr(nul + 1);
  }
  for (bool allow_control : {false, true}) {
    auto ok = cfgsync::CheckSafeKey(key, allow_control);
    if (ok) {
      CheckAccepted(key, allow_control);
    } else {
      Require(ok.error().kind == cfgsync::ErrorKind::kInvalidArgument, "kInvalidArgument");
      Require(IsOneLine(ok.error().message), "the error is one printable line");
    }
  }
  std::string joined = cfgsync::JoinKey(prefix, key);
  Require(joined.starts_with(prefix) && joined.ends_with(key), "JoinKey keeps both parts");
  Require(joined.size() == prefix.size() + key.size() + (prefix.empty() ? 0 : 1),
          "JoinKey adds one '/' at most");
  return 0;
}

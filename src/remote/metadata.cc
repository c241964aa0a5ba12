#include "remote/metadata.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/hash.h"

namespace cfgsync {

WallTime ToWall(FileTime t) {
  return WallTime{} + std::chrono::seconds(t.sec) + std::chrono::nanoseconds(t.nsec);
}

FileMeta MetaFromStat(const struct stat& st) {
  FileMeta m;
  m.mtime = FileTime{st.st_mtim.tv_sec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec)};
  m.mode = st.st_mode;
  m.uid = st.st_uid;
  m.gid = st.st_gid;
  return m;
}

std::string FormatMtime(FileTime t) {
  if (t.nsec == 0) return std::to_string(t.sec);
  // A timespec's nanoseconds count forward even before 1970: {-2, 5e8} is -1.5 s.
  bool neg = t.sec < 0;
  std::string s = neg ? "-" + std::to_string(-(t.sec + 1)) : std::to_string(t.sec);
  std::string frac = std::to_string(neg ? 1'000'000'000 - t.nsec : t.nsec);
  frac.insert(0, 9 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return s + "." + frac;
}

std::optional<FileTime> ParseMtime(std::string_view s) {
  if (s.starts_with('-') && s.find('.') != std::string_view::npos) {
    if (s.starts_with("--")) return std::nullopt;
    auto pos = ParseMtime(s.substr(1));
    if (!pos) return std::nullopt;
    if (pos->nsec == 0) return FileTime{-pos->sec, 0};
    return FileTime{-pos->sec - 1, 1'000'000'000 - pos->nsec};
  }
  auto dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  if (whole.empty()) return std::nullopt;
  FileTime t;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), t.sec);
  if (ec != std::errc() || p != whole.data() + whole.size()) return std::nullopt;
  if (dot == std::string_view::npos) return t;
  std::string_view frac = s.substr(dot + 1);
  if (frac.empty() || !std::all_of(frac.begin(), frac.end(), ::isdigit)) return std::nullopt;
  if (t.sec < 0) return std::nullopt;
  std::string digits(frac.substr(0, 9));
  digits.append(9 - digits.size(), '0');
  t.nsec = static_cast<std::uint32_t>(std::stoul(digits));
  return t;
}

namespace {

std::optional<std::uint32_t> ParseUint(std::string_view s, int base) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::map<std::string, std::string> EncodeMeta(const FileMeta& meta) {
  std::map<std::string, std::string> out;
  if (meta.mtime) out["mtime"] = FormatMtime(*meta.mtime);
  if (meta.mode) {
    char buf[16];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *meta.mode, 8);
    out["mode"] = std::string(buf, p);
  }
  if (meta.uid) out["uid"] = std::to_string(*meta.uid);
  if (meta.gid) out["gid"] = std::to_string(*meta.gid);
  if (meta.md5_hex) {
    if (auto raw = HexDecode(*meta.md5_hex); raw && raw->size() == 16) {
      out["md5chksum"] = Base64Encode(*raw);
    }
  }
  return out;
}

FileMeta DecodeMeta(const std::map<std::string, std::string>& user) {
  FileMeta m;
  for (const auto& [raw_name, value] : user) {
    std::string name = Lower(raw_name);
    // A malformed value never replaces a valid one.
    if (name == "mtime") {
      if (auto v = ParseMtime(value)) m.mtime = v;
    } else if (name == "mode") {
      if (auto v = ParseUint(value, 8)) m.mode = v;
    } else if (name == "uid") {
      if (auto v = ParseUint(value, 10)) m.uid = v;
    } else if (name == "gid") {
      if (auto v = ParseUint(value, 10)) m.gid = v;
    } else if (name == "md5chksum") {
      if (auto raw = Base64Decode(value); raw && raw->size() == 16) m.md5_hex = HexEncode(*raw);
    }
  }
  return m;
}

}  // namespace cfgsync

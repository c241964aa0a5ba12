#include "remote/metadata.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "core/hash.h"
#include "core/log.h"
#include "core/number.h"
#include "core/text.h"

namespace cfgsync {

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
  const bool neg = s.starts_with('-');
  if (neg) s.remove_prefix(1);
  const auto dot = s.find('.');
  auto whole = ParseUnsigned<std::uint64_t>(s.substr(0, dot));
  if (!whole || *whole > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  FileTime t{static_cast<std::int64_t>(*whole), 0};
  if (dot != std::string_view::npos) {
    std::string_view frac = s.substr(dot + 1);
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    if (frac.empty() || !std::all_of(frac.begin(), frac.end(), is_digit)) return std::nullopt;
    std::string digits(frac.substr(0, 9));
    digits.append(9 - digits.size(), '0');
    t.nsec = ParseUnsigned<std::uint32_t>(digits).value_or(0);
  }
  if (!neg) return t;
  // A timespec's nanoseconds count forward even before 1970: -1.5 s is {-2, 5e8}.
  if (t.nsec == 0) return FileTime{-t.sec, 0};
  return FileTime{-t.sec - 1, 1'000'000'000 - t.nsec};
}

bool MtimeInRange(FileTime t) {
  constexpr std::int64_t kLast = 253'402'300'799;  // 9999-12-31T23:59:59Z
  return t.sec >= 0 && t.sec <= kLast && t.nsec < 1'000'000'000;
}

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

FileMeta DecodeMeta(const std::map<std::string, std::string>& user,
                    std::vector<IgnoredMeta>* ignored) {
  FileMeta m;
  auto ignore = [&](const std::string& name, const std::string& value, const char* reason) {
    if (ignored) ignored->push_back(IgnoredMeta{name, value, reason});
  };
  for (const auto& [raw_name, value] : user) {
    std::string name = AsciiLower(raw_name);
    std::optional<std::uint32_t>* field = name == "mode"  ? &m.mode
                                          : name == "uid" ? &m.uid
                                          : name == "gid" ? &m.gid
                                                          : nullptr;
    // A malformed value never replaces a valid one.
    if (name == "mtime") {
      auto v = ParseMtime(value);
      if (v && MtimeInRange(*v)) {
        m.mtime = v;
      } else {
        ignore(name, value, v ? "outside 1970-01-01..9999-12-31" : "malformed");
      }
    } else if (field) {
      auto v = ParseUnsigned<std::uint32_t>(value, name == "mode" ? 8 : 10);
      if (v) *field = v;
      if (!v) ignore(name, value, "malformed");
    } else if (name == "md5chksum") {
      if (auto raw = Base64Decode(value); raw && raw->size() == 16) m.md5_hex = HexEncode(*raw);
    }
  }
  return m;
}

void WarnIgnoredMeta(std::string_view key, const std::vector<IgnoredMeta>& ignored) {
  for (const IgnoredMeta& i : ignored) {
    spdlog::warn(WithFields("ignoring a stored attribute", {{"key", Printable(key)},
                                                            {"attribute", i.name},
                                                            {"value", Printable(i.value)},
                                                            {"reason", i.reason}}));
  }
}

}  // namespace cfgsync

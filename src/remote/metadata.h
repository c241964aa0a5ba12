// File attributes stored with each object, in rclone's metadata format so that a backup written
// by either tool restores with the other.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_meta.h"

namespace cfgsync {

// Formats seconds since the epoch the rclone way: up to 9 fraction digits, trailing zeros
// dropped, no fraction at all for whole seconds ("1709618828.123456789", "1709618828").
std::string FormatMtime(FileTime t);

// Parses FormatMtime's output: an optional '-', one or more digits (fitting in 64 bits), and
// optionally '.' followed by one or more digits (after the 9th, truncated). Returns nullopt for
// anything else ("+1", "--1.5", "1.", ".5", "1e9", spaces).
std::optional<FileTime> ParseMtime(std::string_view s);

// Whether `t` lies in 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z: the stored mtimes
// that restore applies and ls shows. Outside it, a stored mtime counts as absent.
bool MtimeInRange(FileTime t);

// The user-metadata map for `meta`, keyed by rclone's lower-case names without the
// "x-amz-meta-" prefix: "mtime", "mode" (octal, no leading 0), "uid", "gid", "md5chksum"
// (base64). Absent fields are absent keys.
std::map<std::string, std::string> EncodeMeta(const FileMeta& meta);

// A stored attribute DecodeMeta left out, and why.
struct IgnoredMeta {
  std::string name;    // "mtime", "mode"...
  std::string value;   // as stored (may hold any byte)
  std::string reason;  // "malformed", "outside 1970-01-01..9999-12-31"
};

// The inverse of EncodeMeta. Keys are matched case-insensitively; malformed values, and mtimes
// outside MtimeInRange, are left out (rclone does the same) rather than failing the whole
// object, and listed in `ignored` when given.
FileMeta DecodeMeta(const std::map<std::string, std::string>& user,
                    std::vector<IgnoredMeta>* ignored = nullptr);

// Logs one warning per ignored attribute of `key` (escaped), naming the value and the reason.
void WarnIgnoredMeta(std::string_view key, const std::vector<IgnoredMeta>& ignored);

}  // namespace cfgsync

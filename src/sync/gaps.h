// What the backup is missing on purpose of nobody: the files cfgsync is meant to back up but
// cannot (unreadable, special, symlinks, names restore could not write back). Every layer that
// meets such a file reports it here; logs, metrics, /status and the exit codes read it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cfgsync {

// Why a file is not in the backup. kVanished is counted but leaves nothing unprotected.
enum class GapReason { kPermission, kSpecial, kSymlink, kName, kIo, kVanished };
inline constexpr std::size_t kGapReasons = 6;

// Stable lower-case name ("permission"), for logs and the metrics label.
std::string_view GapReasonName(GapReason reason);

// kPermission for EACCES/EPERM, kVanished for ENOENT/ENOTDIR, kIo otherwise.
GapReason GapReasonForErrno(int err);

// Whether `rel` is a name that restore could not write back (control bytes, such as a newline
// or ESC): "" when it is fine, else why not.
std::string BadNameReason(std::string_view rel);

struct Gap {
  std::string rel;  // a file, or a folder with a trailing '/'
  GapReason reason;
  std::string detail;  // the error text, for people
};

// The set of unprotected paths. Thread-safe: workers report, the event loop and the HTTP
// server read.
class Gaps {
 public:
  // Records that `rel` cannot be backed up. Logs one `warn` line the first time `rel` is
  // reported with this reason (never per retry) and counts it under the reason. kVanished is
  // only counted.
  void Report(const std::string& rel, GapReason reason, std::string_view detail);

  // `rel` is in the backup again, or gone: forgets it (one `info` line if it was unprotected).
  void Clear(const std::string& rel);

  // After a full scan of `root`: `found` is the whole truth. Paths not in it are cleared (one
  // `info` line each: "backed up again", or "gone" when nothing is left at the path), new ones
  // reported as by Report().
  void ReplaceAll(const std::vector<Gap>& found, const std::filesystem::path& root);

  // Whether `rel` is unprotected now.
  bool Has(const std::string& rel) const;

  // Number of unprotected paths.
  std::size_t Count() const;

  // The first `limit` unprotected paths in byte order.
  std::vector<Gap> List(std::size_t limit) const;

  // Paths that became unprotected, per reason, since the start (a Prometheus counter).
  std::array<std::int64_t, kGapReasons> ErrorCounts() const;

 private:
  void ReportLocked(const std::string& rel, GapReason reason, std::string_view detail);

  mutable std::mutex mu_;
  std::map<std::string, Gap, std::less<>> gaps_;
  std::array<std::int64_t, kGapReasons> counts_{};
};

// One line explaining why files under `dir` cannot be read when they belong to another uid than
// ours, naming the fixes (PUID/PGID, runAsUser, fsGroup); "" when no such file is unprotected.
std::string OwnerHint(const std::filesystem::path& dir, const Gaps& gaps);

}  // namespace cfgsync

#include "sync/gaps.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>

#include "core/log.h"
#include "core/text.h"
#include "remote/key.h"

namespace cfgsync {

std::string_view GapReasonName(GapReason reason) {
  switch (reason) {
    case GapReason::kPermission:
      return "permission";
    case GapReason::kSpecial:
      return "special";
    case GapReason::kSymlink:
      return "symlink";
    case GapReason::kName:
      return "name";
    case GapReason::kIo:
      return "io";
    case GapReason::kVanished:
      return "vanished";
  }
  return "io";
}

GapReason GapReasonForErrno(int err) {
  if (err == EACCES || err == EPERM) return GapReason::kPermission;
  if (err == ENOENT || err == ENOTDIR) return GapReason::kVanished;
  return GapReason::kIo;
}

std::string BadNameReason(std::string_view rel) {
  auto ok = CheckSafeKey(rel, false);
  return ok ? "" : ok.error().message;
}

void Gaps::Report(const std::string& rel, GapReason reason, std::string_view detail) {
  std::lock_guard lock(mu_);
  ReportLocked(rel, reason, detail);
}

void Gaps::ReportLocked(const std::string& rel, GapReason reason, std::string_view detail) {
  if (reason == GapReason::kVanished) {
    ++counts_[static_cast<std::size_t>(reason)];
    return;
  }
  auto it = gaps_.find(rel);
  if (it != gaps_.end() && it->second.reason == reason) {
    it->second.detail = detail;
    return;
  }
  ++counts_[static_cast<std::size_t>(reason)];
  gaps_[rel] = Gap{rel, reason, std::string(detail)};
  spdlog::warn(WithFields("not backed up", {{"path", Printable(rel)},
                                            {"reason", GapReasonName(reason)},
                                            {"error", std::string(detail)}}));
}

void Gaps::Clear(const std::string& rel) {
  std::lock_guard lock(mu_);
  if (gaps_.erase(rel) > 0) spdlog::info(WithFields("backed up again", {{"path", Printable(rel)}}));
}

void Gaps::ReplaceAll(const std::vector<Gap>& found, const std::filesystem::path& root) {
  std::lock_guard lock(mu_);
  std::set<std::string_view> keep;
  for (const Gap& g : found) {
    if (g.reason != GapReason::kVanished) keep.insert(g.rel);
  }
  for (auto it = gaps_.begin(); it != gaps_.end();) {
    if (keep.contains(it->first)) {
      ++it;
      continue;
    }
    std::string rel = it->first;
    if (rel.ends_with('/')) rel.pop_back();
    struct stat st;
    bool there = ::lstat((root / rel).c_str(), &st) == 0;
    spdlog::info(WithFields(there ? "backed up again" : "not backed up any more: gone",
                            {{"path", Printable(it->first)}}));
    it = gaps_.erase(it);
  }
  for (const Gap& g : found) ReportLocked(g.rel, g.reason, g.detail);
}

bool Gaps::Has(const std::string& rel) const {
  std::lock_guard lock(mu_);
  return gaps_.contains(rel);
}

std::size_t Gaps::Count() const {
  std::lock_guard lock(mu_);
  return gaps_.size();
}

std::vector<Gap> Gaps::List(std::size_t limit) const {
  std::lock_guard lock(mu_);
  std::vector<Gap> out;
  for (auto it = gaps_.begin(); it != gaps_.end() && out.size() < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::array<std::int64_t, kGapReasons> Gaps::ErrorCounts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::string OwnerHint(const std::filesystem::path& dir, const Gaps& gaps) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  std::map<uid_t, int> owners;
  int n = 0;
  for (const Gap& g : gaps.List(10'000)) {
    if (g.reason != GapReason::kPermission) continue;
    std::string rel = g.rel;
    if (rel.ends_with('/')) rel.pop_back();
    struct stat st;
    if (::lstat((dir / rel).c_str(), &st) != 0 || st.st_uid == uid) continue;
    ++owners[st.st_uid];
    ++n;
  }
  if (n == 0) return "";
  auto top = std::max_element(owners.begin(), owners.end(),
                              [](auto& a, auto& b) { return a.second < b.second; });
  const uid_t owner = top->first;
  return fmt::format(
      "{} files cannot be read by cfgsync, which runs as uid {} gid {}; they belong to uid {}. "
      "Fix one of: run cfgsync as the app's user (securityContext.runAsUser: {}); set the app's "
      "PUID={} and PGID={} (linuxserver.io images); or give both a shared group "
      "(securityContext.fsGroup) and group-readable files",
      n, uid, gid, owner, owner, uid, gid);
}

}  // namespace cfgsync

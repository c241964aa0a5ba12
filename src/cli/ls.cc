#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "cli/common.h"
#include "core/parallel.h"
#include "core/text.h"
#include "remote/metadata.h"
#include "remote/remote.h"

namespace cfgsync::cli {
namespace {

// The stored mtime with nanoseconds, else the listing's time. Both are within 1970..9999 (the
// remotes leave other stored mtimes out), checked again here so that nothing can throw.
std::string FormatTime(const ObjectInfo& o) {
  if (o.meta && o.meta->mtime && MtimeInRange(*o.meta->mtime)) {
    std::time_t t = o.meta->mtime->sec;
    return fmt::format("{:%Y-%m-%d %H:%M:%S}.{:09d}", fmt::gmtime(t), o.meta->mtime->nsec);
  }
  std::time_t listed = std::chrono::system_clock::to_time_t(o.modified);
  if (!MtimeInRange(FileTime{listed, 0})) return "                   -";
  return fmt::format("{:%Y-%m-%d %H:%M:%S}", fmt::gmtime(listed));
}

// Lists the remote with each file's stored attributes (one HEAD per object on S3, in parallel),
// a page at a time: memory does not grow with the backup. Exit 1 when the listing or a HEAD
// failed (what was listed before is printed).
int RunLs(const CommonFlags& flags) {
  int code = kExitOk;
  RemoteSpec spec;
  auto remote = OpenRemoteOrReport(flags, &spec, &code);
  if (!remote) return code;
  std::uint64_t total = 0;
  std::size_t count = 0, failed = 0;
  Status listed = remote->ListPages("", [&](std::vector<ObjectInfo> page) -> Status {
    std::vector<Result<ObjectInfo>> stats(page.size(), Fail(ErrorKind::kNotFound, ""));
    ParallelFor(page.size(), flags.remote.transfers, [&](std::size_t i) {
      stats[i] = page[i].meta ? Result<ObjectInfo>(page[i]) : remote->Stat(page[i].key);
    });
    for (std::size_t i = 0; i < page.size(); ++i) {
      /* An object deleted since the listing is no failure; any other error is. */
      if (!stats[i] && stats[i].error().kind != ErrorKind::kNotFound) {
        ++failed;
        Report(stats[i].error());
      }
      const ObjectInfo& o = stats[i] ? *stats[i] : page[i];
      std::string mode = o.meta && o.meta->mode ? fmt::format("{:06o}", *o.meta->mode) : "     -";
      std::printf("%12llu  %s  %s  %s\n", static_cast<unsigned long long>(o.size),
                  FormatTime(o).c_str(), mode.c_str(), Printable(o.key).c_str());
      total += o.size;
    }
    count += page.size();
    return {};
  });
  if (!listed) return Report(listed.error());
  (void)std::fprintf(stderr, "%zu objects, %llu bytes in %s\n", count,
                     static_cast<unsigned long long>(total), spec.display.c_str());
  if (failed > 0) {
    return Report(Error{ErrorKind::kIo, std::to_string(failed) + " of " + std::to_string(count) +
                                            " objects could not be read (see above)"});
  }
  return kExitOk;
}

}  // namespace

void RegisterLs(CLI::App& app, CommonFlags& flags, Action& action) {
  auto* cmd = app.add_subcommand("ls", "list the backup: size, file mtime (UTC), mode, key");
  cmd->callback([&] { action = [&] { return RunLs(flags); }; });
}

}  // namespace cfgsync::cli

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/common.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/text.h"

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

// Lists the remote with each file's stored attributes (one HEAD per object on S3, in parallel).
// Keys are printed escaped. An object whose attributes could not be read is listed without
// them, its error logged, and the exit code is 1.
int RunLs(const CommonFlags& flags) {
  int code = kExitOk;
  RemoteSpec spec;
  auto remote = OpenRemoteOrReport(flags, &spec, &code);
  if (!remote) return code;
  auto list = remote->List("");
  if (!list) return Report(list.error());
  std::vector<Result<ObjectInfo>> stats(list->size(), Fail(ErrorKind::kNotFound, ""));
  ParallelFor(list->size(), flags.remote.transfers, [&](std::size_t i) {
    stats[i] = (*list)[i].meta ? Result<ObjectInfo>((*list)[i]) : remote->Stat((*list)[i].key);
  });
  std::uint64_t total = 0;
  std::size_t failed = 0;
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (!stats[i]) {
      ++failed;
      spdlog::error(WithFields("stat failed", {{"key", Printable((*list)[i].key)},
                                               {"error", Printable(stats[i].error().message)}}));
    }
    const ObjectInfo& o = stats[i] ? *stats[i] : (*list)[i];
    std::string mode = o.meta && o.meta->mode ? fmt::format("{:06o}", *o.meta->mode) : "     -";
    std::printf("%12llu  %s  %s  %s\n", static_cast<unsigned long long>(o.size),
                FormatTime(o).c_str(), mode.c_str(), Printable(o.key).c_str());
    total += o.size;
  }
  std::fprintf(stderr, "%zu objects, %llu bytes in %s\n", list->size(),
               static_cast<unsigned long long>(total), spec.display.c_str());
  if (failed == 0) return kExitOk;
  std::fprintf(stderr, "cfgsync: the attributes of %zu objects could not be read (see above)\n",
               failed);
  return kExitFailure;
}

}  // namespace

void RegisterLs(CLI::App& app, CommonFlags& flags, Action& action) {
  auto* cmd = app.add_subcommand("ls", "list the backup: size, file mtime (UTC), mode, key");
  cmd->callback([&] { action = [&] { return RunLs(flags); }; });
}

}  // namespace cfgsync::cli

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cstdio>

#include "cli/common.h"
#include "core/parallel.h"

namespace cfgsync::cli {
namespace {

std::string FormatTime(const ObjectInfo& o) {
  if (o.meta && o.meta->mtime) {
    std::time_t t = o.meta->mtime->sec;
    return fmt::format("{:%Y-%m-%d %H:%M:%S}.{:09d}", fmt::gmtime(t), o.meta->mtime->nsec);
  }
  return fmt::format("{:%Y-%m-%d %H:%M:%S}",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(o.modified)));
}

// Lists the remote with each file's stored attributes (one HEAD per object on S3, in parallel).
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
  for (std::size_t i = 0; i < list->size(); ++i) {
    const ObjectInfo& o = stats[i] ? *stats[i] : (*list)[i];
    std::string mode = o.meta && o.meta->mode ? fmt::format("{:06o}", *o.meta->mode) : "     -";
    std::printf("%12llu  %s  %s  %s\n", static_cast<unsigned long long>(o.size),
                FormatTime(o).c_str(), mode.c_str(), o.key.c_str());
    total += o.size;
  }
  (void)std::fprintf(stderr, "%zu objects, %llu bytes in %s\n", list->size(),
                     static_cast<unsigned long long>(total), spec.display.c_str());
  return kExitOk;
}

}  // namespace

void RegisterLs(CLI::App& app, CommonFlags& flags, Action& action) {
  auto* cmd = app.add_subcommand("ls", "list the backup: size, file mtime (UTC), mode, key");
  cmd->callback([&] { action = [&] { return RunLs(flags); }; });
}

}  // namespace cfgsync::cli

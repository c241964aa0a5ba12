// Filter rules (a --filter-from file, --include and --exclude values) and the paths they are
// asked about. Input lines: "?PATH" asks about PATH, "--include=LIST" and "--exclude=LIST" are
// flag values (comma lists, as CFGSYNC_INCLUDE gives them), any other line belongs to the
// filter file. A built filter must never skip a directory that holds a file it includes, and
// a copy must answer the same; a refused rule set gets one printable line naming the fault.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "sync/filter.h"

namespace {

using cfgsync::fuzz::IsOneLine;
using cfgsync::fuzz::Require;

struct Input {
  cfgsync::FilterOptions opts;
  std::string file;
  std::vector<std::string_view> paths;
};

Input Split(std::string_view in) {
  Input out;
  out.opts.default_excludes = !in.starts_with('!');
  while (!in.empty()) {
    auto nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    if (line.starts_with('?')) {
      out.paths.push_back(line.substr(1));
    } else if (line.starts_with("--include=")) {
      for (auto& p : cfgsync::SplitPatternList(line.substr(10))) out.opts.includes.push_back(p);
    } else if (line.starts_with("--exclude=")) {
      for (auto& p : cfgsync::SplitPatternList(line.substr(10))) out.opts.excludes.push_back(p);
    } else {
      out.file.append(line).append("\n");
    }
  }
  return out;
}

// The filter file lives in memory; its /proc path is what --filter-from names.
std::string MemoryFile(const std::string& text) {
  static int fd = -1;
  if (fd < 0) fd = ::memfd_create("filter", 0);
  Require(fd >= 0 && ::ftruncate(fd, 0) == 0, "memfd");
  Require(::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()), "write");
  return "/proc/self/fd/" + std::to_string(fd);
}

void CheckPath(const cfgsync::Filter& f, const cfgsync::Filter& copy, std::string_view path) {
  bool included = f.IncludesFile(path);
  Require(included == copy.IncludesFile(path), "a copy answers the same");
  if (!included) return;
  Require(f.MayIncludeDir(""), "the root may hold an included file");
  for (auto slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    Require(f.MayIncludeDir(path.substr(0, slash)), "no included file under a skipped folder");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;  // filter files are short; long ones only slow the search down
  Input in = Split(std::string_view(reinterpret_cast<const char*>(data), size));
  in.opts.filter_from = MemoryFile(in.file);
  auto filter = cfgsync::Filter::Build(in.opts);
  if (!filter) {
    Require(filter.error().kind == cfgsync::ErrorKind::kConfig, "a bad rule is kConfig");
    Require(IsOneLine(filter.error().message), "the error is one printable line");
    return 0;
  }
  Require(IsOneLine(filter->Describe()), "Describe is one printable line");
  cfgsync::Filter copy = *filter;
  for (std::string_view path : in.paths) CheckPath(*filter, copy, path);
  return 0;
}

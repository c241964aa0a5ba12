// Include/exclude rules that decide which files under the synced root are backed up and restored.
//
// The syntax and semantics follow rclone's filtering (https://rclone.org/filtering/) so that a
// setup replacing `rclone sync /config s3:... --exclude "*.db*" --exclude "*.log"` keeps syncing
// exactly the same files.
//
// Patterns use rclone's glob syntax and anchoring, described in sync/glob.h.
//
// Directory rules: a pattern ending in '/' matches directories only. "- dir/" excludes every
// file under any directory named "dir" (rclone turns it into "- dir/**"). "+ dir/" only marks
// the directory as worth descending into and includes no file by itself, exactly as in rclone
// ("--include /dir/" syncs nothing); write "+ dir/**" to include a directory's contents.
//
// Rule order. Rules are tried in order, the first matching rule decides, and a file matching
// no rule is included. The list is built as:
//   1. the default excludes "- *.db*", "- .*-litestream/" (Litestream's shadow folders), "- *.log"
//      and "- /lost+found/", unless FilterOptions::default_excludes is false;
//   2. every --include, in command-line order;
//   3. every --exclude, in command-line order;
//   4. the --filter-from file, top to bottom;
//   5. "- /**" if at least one --include was given.
// Steps 2-5 are rclone's documented processing order (--include, --exclude, --filter-from,
// then the exclude-everything-else rule that --include implies; a "+" line in the filter file
// does not imply it). So, as in rclone, "--include '*.yaml' --exclude secrets.yaml" still
// syncs secrets.yaml: use a filter file when includes and excludes must interleave. The
// defaults come first, ahead of rclone's order, because they keep live SQLite databases
// (replicated separately by Litestream, with their -wal/-shm files) and logs out of the backup
// even when a broad --include would otherwise match them; --no-default-excludes drops them.
// Note that "*.db*" also excludes "x.db.bak" and "a.dbx" but not "database.yaml", and "*.log"
// does not exclude rotated logs such as "home-assistant.log.1" (rclone behaves the same).
//
// Filter file format (--filter-from): one rule per line, leading and trailing whitespace
// trimmed; "+ PATTERN" includes, "- PATTERN" excludes (exactly one space after the sign, any
// further spaces belong to the pattern), "!" clears every rule before it (including the
// defaults and the --include/--exclude rules, but not the implied "- /**" of step 5, which
// rclone also keeps); blank lines and lines starting with '#' or ';' are ignored; inline
// comments are not supported. Anything else is an error naming the file and line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace cfgsync {

namespace filter_internal {
struct Rule;  // one compiled rule; defined in filter.cc
}  // namespace filter_internal

// The filter-related command-line options.
struct FilterOptions {
  std::vector<std::string> excludes;  // --exclude, repeatable
  std::vector<std::string> includes;  // --include, repeatable
  std::string filter_from;            // --filter-from FILE, "" for none
  bool default_excludes = true;       // false with --no-default-excludes
};

// Splits a comma-separated list of patterns, as rclone reads list flags from the environment
// (CFGSYNC_EXCLUDE="*.db*,*.log,cache/**"). Commas inside {...} or [...] belong to the pattern;
// spaces around items and empty items are dropped.
std::vector<std::string> SplitPatternList(std::string_view list);

// An immutable, compiled rule list. Cheap to query from several threads at once.
class Filter {
 public:
  // Compiles the rules in the order documented above. A malformed pattern or filter file line
  // is kConfig with a one-line message naming the flag (or FILE:LINE) and the pattern; an
  // unreadable filter file is kConfig naming the file.
  static Result<Filter> Build(const FilterOptions& opts);

  Filter(const Filter& other);
  Filter(Filter&& other) noexcept;
  Filter& operator=(const Filter& other);
  Filter& operator=(Filter&& other) noexcept;
  ~Filter();

  // Whether the file at `rel_path` ('/'-separated, relative to the synced root, no leading
  // '/') is synced.
  bool IncludesFile(std::string_view rel_path) const;

  // Whether the directory at `rel_path` ('/'-separated, relative to the synced root, "" for
  // the root itself) may hold synced files at any depth. False lets scanners and watchers skip
  // the directory entirely; it is never false when some file under it could be included, but
  // may be true when none is.
  bool MayIncludeDir(std::string_view rel_path) const;

  // One line listing the rules in evaluation order, for the start-up log.
  std::string Describe() const;

 private:
  Filter();

  std::vector<filter_internal::Rule> rules_;
};

}  // namespace cfgsync

// The glob engine behind the filter rules (sync/filter.h): rclone's pattern syntax, compiled
// once and matched against '/'-separated relative paths.
//
// Pattern syntax (matched against '/'-separated paths relative to the synced root):
//   *          any run of characters except '/', possibly empty
//   **         any run of characters including '/', possibly empty (three or more '*' is an error)
//   ?          exactly one character except '/'
//   [abc]      one character from the set; ranges "a-z"; "[!...]" or "[^...]" negates; "\c" is a
//              literal c; "\d \D \s \S \w \W" and POSIX names like "[:alpha:]" add ASCII classes;
//              a '-' first or last is literal; an empty class is an error. Never matches '/'.
//   {a,b}      alternatives, which may contain '/' and may nest (at most 256 combinations)
//   \c         c literally for punctuation c (\* \? \[ \{ \, \\ ...); \d \D \s \S \w \W are the
//              ASCII classes as in rclone; any other escaped letter or digit is an error
//   other      itself; "characters" are UTF-8 code points (an invalid byte counts as one)
// Matching is case-sensitive and byte-exact (no Unicode normalisation). rclone's "{{regexp}}"
// is not supported and is rejected rather than silently taken literally. "[!...]" negates as
// rclone's documentation says, although rclone's code currently reads that '!' literally.
//
// Anchoring: a pattern starting with '/' must match the whole path from the root ("/a.yaml"
// matches "a.yaml" only). Any other pattern must match a tail of the path that starts at a
// segment boundary: "*.log" matches "x.log" and "a/b/x.log"; "conf/*.ini" matches "conf/a.ini"
// and "x/conf/a.ini" but not "xconf/a.ini". Note that, as in rclone, "**/x" needs a '/' before
// "x" and so does not match a top-level "x".
#pragma once

#include <memory>
#include <string_view>

#include "core/error.h"

namespace cfgsync {

namespace glob_internal {
struct Pattern;  // the compiled form; defined in glob.cc
}  // namespace glob_internal

// A compiled glob. Immutable: copies share the compiled form, and every method may be called
// from several threads at once.
class Glob {
 public:
  // Compiles `pattern`. A leading '/' anchors it at the root; otherwise it may match any tail
  // of a path that starts at a segment boundary. Errors: kConfig whose message is the bare
  // reason ("unterminated '['"), without the pattern, for the caller to frame.
  static Result<Glob> Compile(std::string_view pattern);

  // Whether `path` matches (the whole path for an anchored glob, a tail starting at a segment
  // boundary otherwise). Time is linear in the path's length times the pattern's.
  bool Matches(std::string_view path) const;

  // Whether some path "<prefix><rest>" with a non-empty rest could match; `prefix` is "" or
  // ends with '/'. May err towards true, never towards false.
  bool CouldMatchUnder(std::string_view prefix) const;

  // Whether every path "<prefix><rest>" with a non-empty rest matches; `prefix` is "" or ends
  // with '/'. May err towards false (unsure), never towards true.
  bool MatchesAllUnder(std::string_view prefix) const;

 private:
  explicit Glob(std::shared_ptr<const glob_internal::Pattern> pattern);

  std::shared_ptr<const glob_internal::Pattern> pattern_;
};

}  // namespace cfgsync

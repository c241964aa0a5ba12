#include "sync/filter.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "core/text.h"
#include "sync/glob.h"

namespace cfgsync {
namespace filter_internal {

struct Rule {
  bool include = false;
  bool dir_only = false;  // "+ dir/": steers directory traversal only, never matches a file
  std::string text;       // the pattern as written, for Describe()
  std::string note;       // shown after the rule by Describe(), "" for none
  Glob glob;
};

namespace {

/* SQLite databases and their -wal/-shm/-journal files, Litestream's shadow folders beside them
 * (".sonarr.db-litestream/", whose WAL copies change every second: Litestream replicates
 * those), logs, and the root-only lost+found of a fresh ext4 volume. */
constexpr std::string_view kDefaultExcludes[] = {"*.db*", ".*-litestream/", "*.log",
                                                 "/lost+found/"};

std::unexpected<Error> Bad(std::string reason) {
  return Fail(ErrorKind::kConfig, std::move(reason));
}

std::string_view TrimSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// Compiles `text` and appends it to `rules`; `source` ("--exclude", "FILE:LINE") prefixes
// any error.
Status AddRule(std::vector<Rule>& rules, bool include, std::string_view text,
               std::string_view source, std::string note = "") {
  auto bad = [&](std::string_view reason) {
    return Bad(std::string(source) + ": bad pattern " + Quoted(text) + ": " + std::string(reason));
  };
  if (text.empty()) return bad("empty pattern");
  std::string pattern(text);
  bool dir_only = false;
  if (pattern.ends_with('/')) {
    // rclone: excluding "dir/" excludes everything under it; including "dir/" only allows
    // descending into it.
    if (include) {
      dir_only = true;
    } else {
      pattern += "**";
    }
  }
  auto glob = Glob::Compile(pattern);
  if (!glob) return bad(glob.error().message);
  rules.push_back(Rule{include, dir_only, std::string(text), std::move(note), *std::move(glob)});
  return {};
}

// Applies one trimmed filter-file line: a rule, "!", a comment or a blank line.
Status ApplyFilterLine(std::vector<Rule>& rules, std::string_view line, const std::string& where) {
  if (line.empty() || line[0] == '#' || line[0] == ';') return {};
  if (line == "!") {
    rules.clear();
    return {};
  }
  if (line.starts_with("+ ") || line.starts_with("- ")) {
    return AddRule(rules, line[0] == '+', line.substr(2), where);
  }
  return Bad(where + ": malformed rule " + Quoted(line) +
             " (want \"+ PATTERN\", \"- PATTERN\" or \"!\")");
}

Status LoadFilterFile(std::vector<Rule>& rules, const std::string& path) {
  const std::string what = "--filter-from " + Printable(path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Bad(what + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    const int err = errno;
    return Bad(what + ": cannot open: " + (err != 0 ? std::strerror(err) : "unknown error"));
  }
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    const std::string where = Printable(path) + ":" + std::to_string(line_no);
    if (auto status = ApplyFilterLine(rules, TrimSpace(line), where); !status) return status;
  }
  if (in.bad()) return Bad(what + ": read error");
  return {};
}

}  // namespace
}  // namespace filter_internal

using filter_internal::Rule;

Filter::Filter() = default;
Filter::Filter(const Filter& other) = default;
Filter::Filter(Filter&& other) noexcept = default;
Filter& Filter::operator=(const Filter& other) = default;
Filter& Filter::operator=(Filter&& other) noexcept = default;
Filter::~Filter() = default;

Result<Filter> Filter::Build(const FilterOptions& opts) {
  using filter_internal::AddRule;
  Filter filter;
  std::vector<Rule>& rules = filter.rules_;
  if (opts.default_excludes) {
    for (const std::string_view pattern : filter_internal::kDefaultExcludes) {
      if (auto s = AddRule(rules, false, pattern, "default exclude", "default"); !s) {
        return std::unexpected(s.error());
      }
    }
  }
  for (const std::string& pattern : opts.includes) {
    if (auto s = AddRule(rules, true, pattern, "--include"); !s) return std::unexpected(s.error());
  }
  for (const std::string& pattern : opts.excludes) {
    if (auto s = AddRule(rules, false, pattern, "--exclude"); !s) return std::unexpected(s.error());
  }
  if (!opts.filter_from.empty()) {
    if (auto s = filter_internal::LoadFilterFile(rules, opts.filter_from); !s) {
      return std::unexpected(s.error());
    }
  }
  if (!opts.includes.empty()) {
    if (auto s = AddRule(rules, false, "/**", "--include", "implied by --include"); !s) {
      return std::unexpected(s.error());
    }
  }
  return filter;
}

bool Filter::IncludesFile(std::string_view rel_path) const {
  for (const Rule& rule : rules_) {
    if (!rule.dir_only && rule.glob.Matches(rel_path)) return rule.include;
  }
  return true;
}

bool Filter::MayIncludeDir(std::string_view rel_path) const {
  /* Walk the rules as a file under the directory would: an include rule that could match some
   * such file means "maybe" (the answer may only err towards true), while an exclude rule
   * that matches every such file decides "no" for all of them at once. */
  std::string prefix(rel_path);
  while (prefix.ends_with('/')) prefix.pop_back();
  if (!prefix.empty()) prefix += '/';
  for (const Rule& rule : rules_) {
    if (rule.dir_only) continue;
    if (rule.include) {
      if (rule.glob.CouldMatchUnder(prefix)) return true;
    } else if (rule.glob.MatchesAllUnder(prefix)) {
      return false;
    }
  }
  return true;
}

std::string Filter::Describe() const {
  if (rules_.empty()) return "filter: no rules, every file is synced";
  std::string out = "filter (first match wins, unmatched files are synced):";
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    out += i == 0 ? " " : ", ";
    out += rule.include ? "+ " : "- ";
    out += Printable(rule.text);
    if (!rule.note.empty()) out += " (" + rule.note + ")";
  }
  return out;
}

std::vector<std::string> SplitPatternList(std::string_view list) {
  std::vector<std::string> out;
  std::string item;
  int braces = 0;
  bool in_class = false;
  auto flush = [&] {
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    item.clear();
  };
  for (char c : list) {
    if (c == ',' && braces == 0 && !in_class) {
      flush();
      continue;
    }
    if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
    } else if (c == '{') {
      ++braces;
    } else if (c == '}' && braces > 0) {
      --braces;
    }
    item += c;
  }
  flush();
  return out;
}

}  // namespace cfgsync
#include "sync/glob.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/text.h"

namespace cfgsync {
namespace glob_internal {
namespace {

/* Patterns are compiled to token sequences and matched by simulating the equivalent NFA over
 * the path, one code point at a time, keeping the set of live token positions. That costs
 * O(path length x pattern length) with no recursion and no backtracking, so a hostile or merely
 * long path cannot blow up the way a backtracking glob matcher (or std::regex, which is also
 * recursive) can. Braces are expanded at compile time into alternative sequences, bounded by
 * kMaxAlternatives. The same state sets answer the directory questions: after feeding "dir/",
 * the live positions say whether the rest of the pattern could still match, or must match,
 * whatever follows. */

// A byte that does not start a valid UTF-8 sequence decodes to kInvalidBase + byte: it is one
// "character" that equals only the same invalid byte, never a real code point.
constexpr char32_t kInvalidBase = 0x110000;
constexpr char32_t kMaxCodePoint = kInvalidBase + 0xFF;
constexpr size_t kMaxAlternatives = 256;

struct CodePoint {
  char32_t value;
  size_t size;
};

// Decodes the code point starting at s[pos] (pos < s.size()), rejecting overlong forms,
// surrogates and values past U+10FFFF.
CodePoint DecodeUtf8(std::string_view s, size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  const CodePoint invalid{kInvalidBase + b0, 1};
  if (b0 < 0x80) return {b0, 1};
  size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return invalid;
  }
  if (pos + len > s.size()) return invalid;
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) return invalid;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return invalid;
  return {cp, len};
}

struct Range {
  char32_t lo;
  char32_t hi;
};
using Ranges = std::vector<Range>;

// Returns the code points in [0, kMaxCodePoint] not covered by `in`.
Ranges Complement(Ranges in) {
  std::sort(in.begin(), in.end(), [](Range a, Range b) { return a.lo < b.lo; });
  Ranges out;
  char32_t next = 0;
  for (const Range r : in) {
    if (r.lo > next) out.push_back({next, r.lo - 1});
    next = std::max<char32_t>(next, r.hi + 1);
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return out;
}

// The ASCII classes \d \s \w (and their complements \D \S \W) as RE2 defines them.
std::optional<Ranges> PerlClass(char letter) {
  Ranges r;
  switch (letter | 0x20) {
    case 'd':
      r = {{'0', '9'}};
      break;
    case 's':
      r = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};
      break;
    case 'w':
      r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
      break;
    default:
      return std::nullopt;
  }
  if (letter >= 'A' && letter <= 'Z') return Complement(std::move(r));
  return r;
}

// The POSIX bracket classes ("alpha" for "[:alpha:]"), ASCII only as in RE2.
std::optional<Ranges> PosixClass(std::string_view name) {
  struct Named {
    std::string_view name;
    Ranges ranges;
  };
  static const Named kClasses[] = {
      {"alnum", {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}}},
      {"alpha", {{'A', 'Z'}, {'a', 'z'}}},
      {"ascii", {{0, 0x7F}}},
      {"blank", {{'\t', '\t'}, {' ', ' '}}},
      {"cntrl", {{0, 0x1F}, {0x7F, 0x7F}}},
      {"digit", {{'0', '9'}}},
      {"graph", {{0x21, 0x7E}}},
      {"lower", {{'a', 'z'}}},
      {"print", {{0x20, 0x7E}}},
      {"punct", {{0x21, 0x2F}, {0x3A, 0x40}, {0x5B, 0x60}, {0x7B, 0x7E}}},
      {"space", {{'\t', '\r'}, {' ', ' '}}},
      {"upper", {{'A', 'Z'}}},
      {"word", {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}},
      {"xdigit", {{'0', '9'}, {'A', 'F'}, {'a', 'f'}}},
  };
  const bool negated = name.starts_with('^');
  if (negated) name.remove_prefix(1);
  for (const Named& c : kClasses) {
    if (c.name == name) return negated ? Complement(c.ranges) : c.ranges;
  }
  return std::nullopt;
}

struct CharClass {
  Ranges ranges;
  bool negated = false;

  bool Contains(char32_t c) const {
    const bool in =
        std::any_of(ranges.begin(), ranges.end(), [c](Range r) { return r.lo <= c && c <= r.hi; });
    return in != negated;
  }
};

enum class TokenKind : std::uint8_t { kLiteral, kAnyChar, kClass, kStar, kDoubleStar };

struct Token {
  TokenKind kind;
  char32_t value = 0;  // kLiteral: the code point; kClass: index into Pattern::classes
};
using Sequence = std::vector<Token>;

bool IsStar(const Token& t) {
  return t.kind == TokenKind::kStar || t.kind == TokenKind::kDoubleStar;
}

std::unexpected<Error> Bad(std::string reason) {
  return Fail(ErrorKind::kConfig, std::move(reason));
}

}  // namespace

// A compiled glob: matches when any of its brace-expanded alternatives does.
struct Pattern {
  bool anchored = false;  // written with a leading '/'
  std::vector<CharClass> classes;
  std::vector<Sequence> alternatives;
};

namespace {

// Parses one glob (already stripped of its anchoring '/') into a Pattern.
class GlobCompiler {
 public:
  explicit GlobCompiler(std::string_view glob) : glob_(glob) {}

  // Fills out.classes and out.alternatives; on failure the error message is the bare reason.
  Status Compile(Pattern& out) {
    auto sequences = ParseSequence(0);
    if (!sequences) return std::unexpected(sequences.error());
    out.classes = std::move(classes_);
    out.alternatives = std::move(*sequences);
    return {};
  }

 private:
  bool AtEnd() const { return pos_ >= glob_.size(); }

  // Parses up to the end of the glob or, inside braces (depth > 0), up to the next ',' or '}'.
  Result<std::vector<Sequence>> ParseSequence(int depth) {
    std::vector<Sequence> sequences(1);
    while (!AtEnd()) {
      const char c = glob_[pos_];
      if (depth > 0 && (c == ',' || c == '}')) break;
      if (c == '}') return Bad("unmatched '}'");
      if (c == '{') {
        auto alternatives = ParseBraces(depth + 1);
        if (!alternatives) return alternatives;
        auto product = Concatenate(sequences, *alternatives);
        if (!product) return product;
        sequences = std::move(*product);
        continue;
      }
      auto token = ParseAtom();
      if (!token) return std::unexpected(token.error());
      for (Sequence& s : sequences) s.push_back(*token);
    }
    return sequences;
  }

  // Parses "{a,b,...}" starting at the '{' into the union of its alternatives.
  Result<std::vector<Sequence>> ParseBraces(int depth) {
    if (pos_ + 1 < glob_.size() && glob_[pos_ + 1] == '{') {
      return Bad("\"{{regexp}}\" patterns are not supported");
    }
    ++pos_;
    std::vector<Sequence> all;
    while (true) {
      auto one = ParseSequence(depth);
      if (!one) return one;
      if (all.size() + one->size() > kMaxAlternatives) return Bad("too many {} alternatives");
      std::move(one->begin(), one->end(), std::back_inserter(all));
      if (AtEnd()) return Bad("unterminated '{'");
      if (glob_[pos_++] == '}') return all;
    }
  }

  // Every sequence of `heads` followed by every sequence of `tails`.
  static Result<std::vector<Sequence>> Concatenate(const std::vector<Sequence>& heads,
                                                   const std::vector<Sequence>& tails) {
    if (heads.size() * tails.size() > kMaxAlternatives) return Bad("too many {} alternatives");
    std::vector<Sequence> out;
    for (const Sequence& head : heads) {
      for (const Sequence& tail : tails) {
        out.push_back(head);
        out.back().insert(out.back().end(), tail.begin(), tail.end());
      }
    }
    return out;
  }

  Result<Token> ParseAtom() {
    switch (glob_[pos_]) {
      case '*':
        return ParseStars();
      case '?':
        ++pos_;
        return Token{TokenKind::kAnyChar};
      case '[':
        return ParseClass();
      case ']':
        return Bad("unmatched ']'");
      case '\\':
        return ParseEscape();
      default: {
        const CodePoint cp = DecodeUtf8(glob_, pos_);
        pos_ += cp.size;
        return Token{TokenKind::kLiteral, cp.value};
      }
    }
  }

  Result<Token> ParseStars() {
    size_t count = 0;
    for (; !AtEnd() && glob_[pos_] == '*'; ++pos_) ++count;
    if (count > 2) return Bad("more than two consecutive '*'");
    return Token{count == 1 ? TokenKind::kStar : TokenKind::kDoubleStar};
  }

  // "\c" outside brackets: a literal c, or one of the ASCII classes \d \D \s \S \w \W.
  Result<Token> ParseEscape() {
    ++pos_;
    if (AtEnd()) return Bad("trailing '\\'");
    const char c = glob_[pos_];
    if (IsAsciiAlnum(c)) {
      auto ranges = PerlClass(c);
      if (!ranges) return Bad(std::string("unknown escape '\\") + c + "'");
      ++pos_;
      return AddClass(CharClass{std::move(*ranges)});
    }
    const CodePoint cp = DecodeUtf8(glob_, pos_);
    pos_ += cp.size;
    return Token{TokenKind::kLiteral, cp.value};
  }

  // "[...]" starting at the '['.
  Result<Token> ParseClass() {
    ++pos_;
    CharClass cls;
    if (!AtEnd() && (glob_[pos_] == '!' || glob_[pos_] == '^')) {
      cls.negated = true;
      ++pos_;
    }
    while (true) {
      if (AtEnd()) return Bad("unterminated '['");
      if (glob_[pos_] == ']') break;
      if (auto status = ParseClassItem(cls); !status) return std::unexpected(status.error());
    }
    ++pos_;
    if (cls.ranges.empty()) return Bad("empty character class");
    return AddClass(std::move(cls));
  }

  // One member of a bracket class: "c", "lo-hi", "\c", "\d" or "[:name:]".
  Status ParseClassItem(CharClass& cls) {
    if (glob_.substr(pos_).starts_with("[:")) {
      const size_t end = glob_.find(":]", pos_ + 2);
      if (end != std::string_view::npos) {
        const std::string_view name = glob_.substr(pos_ + 2, end - pos_ - 2);
        auto ranges = PosixClass(name);
        if (!ranges) return Bad("unknown class \"[:" + Printable(name) + ":]\"");
        cls.ranges.insert(cls.ranges.end(), ranges->begin(), ranges->end());
        pos_ = end + 2;
        return {};
      }
    }
    auto lo = ParseClassChar(cls);
    if (!lo) return std::unexpected(lo.error());
    if (!lo->has_value()) return {};  // a \d-style class, already added
    char32_t hi = **lo;
    if (pos_ + 1 < glob_.size() && glob_[pos_] == '-' && glob_[pos_ + 1] != ']') {
      ++pos_;
      auto end = ParseClassChar(cls);
      if (!end) return std::unexpected(end.error());
      if (!end->has_value()) return Bad("a class like \\d cannot end a range");
      hi = **end;
      if (hi < **lo) return Bad("character range out of order");
    }
    cls.ranges.push_back({**lo, hi});
    return {};
  }

  // A single character inside brackets, or nullopt after adding a \d-style class to `cls`.
  Result<std::optional<char32_t>> ParseClassChar(CharClass& cls) {
    if (glob_[pos_] == '\\') {
      ++pos_;
      if (AtEnd()) return Bad("unterminated '['");
      const char c = glob_[pos_];
      if (IsAsciiAlnum(c)) {
        auto ranges = PerlClass(c);
        if (!ranges) return Bad(std::string("unknown escape '\\") + c + "'");
        ++pos_;
        cls.ranges.insert(cls.ranges.end(), ranges->begin(), ranges->end());
        return std::optional<char32_t>();
      }
    }
    const CodePoint cp = DecodeUtf8(glob_, pos_);
    pos_ += cp.size;
    return std::optional<char32_t>(cp.value);
  }

  Token AddClass(CharClass cls) {
    classes_.push_back(std::move(cls));
    return Token{TokenKind::kClass, static_cast<char32_t>(classes_.size() - 1)};
  }

  static bool IsAsciiAlnum(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  std::string_view glob_;
  size_t pos_ = 0;
  std::vector<CharClass> classes_;
};

// ---- Matching ------------------------------------------------------------------------------

// Live NFA positions: states[i] means "tokens [0, i) have matched"; states[size] accepts.
using States = std::vector<std::uint8_t>;

// Marks state i live, plus the states after it that stars (which may match nothing) lead to.
void AddState(const Sequence& seq, size_t i, States& states) {
  states[i] = 1;
  while (i < seq.size() && IsStar(seq[i])) states[++i] = 1;
}

// Whether a single-character token accepts `c`.
bool Accepts(const Pattern& p, const Token& t, char32_t c) {
  switch (t.kind) {
    case TokenKind::kLiteral:
      return t.value == c;
    case TokenKind::kAnyChar:
      return c != '/';
    case TokenKind::kClass:
      return c != '/' && p.classes[t.value].Contains(c);
    default:
      return false;
  }
}

// Advances the live states in `cur` over `c` into `next`; returns whether any survived.
bool Step(const Pattern& p, const Sequence& seq, const States& cur, char32_t c, States& next) {
  std::fill(next.begin(), next.end(), 0);
  bool alive = false;
  for (size_t i = 0; i < seq.size(); ++i) {
    if (!cur[i]) continue;
    const Token& t = seq[i];
    if (t.kind == TokenKind::kDoubleStar || (t.kind == TokenKind::kStar && c != '/')) {
      AddState(seq, i, next);
      alive = true;
    } else if (Accepts(p, t, c)) {
      AddState(seq, i + 1, next);
      alive = true;
    }
  }
  return alive;
}

// Feeds all of `text` to `seq` and returns the states live at its end. A match starts at the
// beginning of `text` or, for an unanchored pattern, also right after any '/' in it.
States Run(const Pattern& p, const Sequence& seq, std::string_view text) {
  States cur(seq.size() + 1, 0);
  States next(seq.size() + 1, 0);
  AddState(seq, 0, cur);
  for (size_t pos = 0; pos < text.size();) {
    const CodePoint cp = DecodeUtf8(text, pos);
    pos += cp.size;
    bool alive = Step(p, seq, cur, cp.value, next);
    std::swap(cur, next);
    if (!p.anchored && cp.value == '/') {
      AddState(seq, 0, cur);
      alive = true;
    }
    if (alive) continue;
    if (p.anchored) break;
    pos = text.find('/', pos);  // nothing can match before the next segment starts
    if (pos == std::string_view::npos) break;
  }
  return cur;
}

bool Matches(const Pattern& p, std::string_view path) {
  return std::any_of(p.alternatives.begin(), p.alternatives.end(),
                     [&](const Sequence& seq) { return Run(p, seq, path).back() != 0; });
}

// Whether some path "<prefix><rest>" (rest non-empty) could match. `prefix` is "" or "dir/".
bool CouldMatchUnder(const Pattern& p, std::string_view prefix) {
  if (!p.anchored) return true;  // the match may start in any segment of `rest`
  for (const Sequence& seq : p.alternatives) {
    const States states = Run(p, seq, prefix);
    for (size_t i = 0; i < seq.size(); ++i) {
      const bool slash = seq[i].kind == TokenKind::kLiteral && seq[i].value == '/';
      if (states[i] && !slash) return true;  // `rest` cannot start with '/'
    }
  }
  return false;
}

// Whether every token from `i` on is a star and at least one is "**", so the remainder of
// the pattern matches any string at all.
bool RestMatchesAnything(const Sequence& seq, size_t i) {
  bool double_star = false;
  for (; i < seq.size(); ++i) {
    if (!IsStar(seq[i])) return false;
    double_star |= seq[i].kind == TokenKind::kDoubleStar;
  }
  return double_star;
}

// Whether every path "<prefix><rest>" (rest non-empty) matches; false when unsure.
bool MatchesAllUnder(const Pattern& p, std::string_view prefix) {
  for (const Sequence& seq : p.alternatives) {
    const bool only_stars = !seq.empty() && std::all_of(seq.begin(), seq.end(), IsStar);
    if (!p.anchored && only_stars) return true;  // e.g. "*": matches every last segment
    const States states = Run(p, seq, prefix);
    for (size_t i = 0; i < seq.size(); ++i) {
      if (states[i] && RestMatchesAnything(seq, i)) return true;
    }
  }
  return false;
}

}  // namespace
}  // namespace glob_internal

Glob::Glob(std::shared_ptr<const glob_internal::Pattern> pattern) : pattern_(std::move(pattern)) {}

Result<Glob> Glob::Compile(std::string_view pattern) {
  auto compiled = std::make_shared<glob_internal::Pattern>();
  if (pattern.starts_with('/')) {
    compiled->anchored = true;
    pattern.remove_prefix(1);
  }
  if (auto status = glob_internal::GlobCompiler(pattern).Compile(*compiled); !status) {
    return std::unexpected(status.error());
  }
  return Glob(std::move(compiled));
}

bool Glob::Matches(std::string_view path) const { return glob_internal::Matches(*pattern_, path); }

bool Glob::CouldMatchUnder(std::string_view prefix) const {
  return glob_internal::CouldMatchUnder(*pattern_, prefix);
}

bool Glob::MatchesAllUnder(std::string_view prefix) const {
  return glob_internal::MatchesAllUnder(*pattern_, prefix);
}

}  // namespace cfgsync

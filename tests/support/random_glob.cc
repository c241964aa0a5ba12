#include "support/random_glob.h"

#include <iterator>

namespace cfgsync::testing {
namespace {

Lengths Lit(std::string_view s, size_t i, std::string_view lit) {
  return s.substr(i).starts_with(lit) ? Lengths{lit.size()} : Lengths{};
}

Lengths AnyRun(std::string_view s, size_t i, bool cross_slash) {
  Lengths out{0};
  for (size_t n = i; n < s.size() && (cross_slash || s[n] != '/'); ++n) out.push_back(n - i + 1);
  return out;
}

Lengths One(std::string_view s, size_t i, bool (*ok)(char)) {
  return i < s.size() && ok(s[i]) ? Lengths{1} : Lengths{};
}

constexpr Fragment kFragments[] = {
    {"a", [](std::string_view s, size_t i) { return Lit(s, i, "a"); }},
    {"b", [](std::string_view s, size_t i) { return Lit(s, i, "b"); }},
    {"x", [](std::string_view s, size_t i) { return Lit(s, i, "x"); }},
    {".", [](std::string_view s, size_t i) { return Lit(s, i, "."); }},
    {"\\.", [](std::string_view s, size_t i) { return Lit(s, i, "."); }},
    {"/", [](std::string_view s, size_t i) { return Lit(s, i, "/"); }},
    {"*", [](std::string_view s, size_t i) { return AnyRun(s, i, false); }},
    {"**", [](std::string_view s, size_t i) { return AnyRun(s, i, true); }},
    {"?", [](std::string_view s, size_t i) { return One(s, i, [](char c) { return c != '/'; }); }},
    {"[ab]", [](std::string_view s,
                size_t i) { return One(s, i, [](char c) { return c == 'a' || c == 'b'; }); }},
    {"[!a]", [](std::string_view s,
                size_t i) { return One(s, i, [](char c) { return c != 'a' && c != '/'; }); }},
    {"[.-b]",
     [](std::string_view s, size_t i) {
       return One(s, i, [](char c) { return c >= '.' && c <= 'b' && c != '/'; });
     }},
    {"{a,b}",
     [](std::string_view s, size_t i) {
       Lengths out = Lit(s, i, "a");
       for (size_t n : Lit(s, i, "b")) out.push_back(n);
       return out;
     }},
    {"{a/,}",
     [](std::string_view s, size_t i) {
       Lengths out = Lit(s, i, "a/");
       out.push_back(0);
       return out;
     }},
};

bool OracleMatchesAt(const RandomGlob& g, size_t fi, std::string_view s, size_t si) {
  if (fi == g.fragments.size()) return si == s.size();
  for (const size_t len : g.fragments[fi]->consume(s, si)) {
    if (OracleMatchesAt(g, fi + 1, s, si + len)) return true;
  }
  return false;
}

}  // namespace

RandomGlob MakeGlob(std::mt19937& rng) {
  RandomGlob out;
  out.anchored = rng() % 3 == 0;
  const int n = 1 + static_cast<int>(rng() % 5);
  for (int i = 0; i < n; ++i) {
    const Fragment& f = kFragments[rng() % std::size(kFragments)];
    // Adjacent stars would merge into a different token in the glob.
    if (!out.glob.empty() && out.glob.back() == '*' && f.glob[0] == '*') continue;
    // A leading '/' would anchor the glob rather than match a '/'.
    if (out.glob.empty() && f.glob[0] == '/') continue;
    out.glob += f.glob;
    out.fragments.push_back(&f);
  }
  if (out.fragments.empty()) {
    out.glob += kFragments[0].glob;  // empty: no fragment was taken
    out.fragments.push_back(&kFragments[0]);
  }
  if (out.anchored) out.glob.insert(out.glob.begin(), '/');
  return out;
}

bool OracleMatches(const RandomGlob& g, std::string_view s) {
  if (OracleMatchesAt(g, 0, s, 0)) return true;
  for (size_t i = 0; !g.anchored && i < s.size(); ++i) {
    if (s[i] == '/' && OracleMatchesAt(g, 0, s, i + 1)) return true;
  }
  return false;
}

std::string MakePath(std::mt19937& rng) {
  static constexpr char kChars[] = "ab.x";
  std::string path;
  const int segments = 1 + static_cast<int>(rng() % 4);
  for (int s = 0; s < segments; ++s) {
    if (s > 0) path += '/';
    const int len = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < len; ++i) path += kChars[rng() % 4];
  }
  return path;
}

}  // namespace cfgsync::testing

// Random globs with a naive matching oracle, for cross-checking the glob engine and the
// filter's directory pruning against an independent implementation.
#pragma once

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace cfgsync::testing {

/* A glob is a list of fragments, each of which says which lengths it can consume at a given
 * position, and the oracle tries every combination by plain backtracking (fine for the short
 * paths MakePath makes). */
using Lengths = std::vector<size_t>;

// One piece of a random glob: its text and the lengths of `s` it can consume at `i`.
struct Fragment {
  const char* glob;
  Lengths (*consume)(std::string_view s, size_t i);
};

// A random glob: its text (with a leading '/' when anchored) and the fragments it is made of.
struct RandomGlob {
  std::string glob;
  bool anchored = false;
  std::vector<const Fragment*> fragments;
};

// A glob of one to five fragments over literals, '/', stars, '?', classes and braces.
RandomGlob MakeGlob(std::mt19937& rng);

// Whether `s` matches `g` by the oracle: the whole of `s` for an anchored glob, a tail that
// starts at a segment boundary otherwise.
bool OracleMatches(const RandomGlob& g, std::string_view s);

// A relative path of one to four short segments over the characters "ab.x".
std::string MakePath(std::mt19937& rng);

}  // namespace cfgsync::testing

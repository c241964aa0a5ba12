// When the sidecar tries again what failed: the remote (an outage, a refusal) or a local file
// that could not be read.
#pragma once

#include <map>
#include <string>

#include "core/clock.h"
#include "core/error.h"

namespace cfgsync {

/* Retries while the remote fails are short for outages (everything arrives within seconds of
 * the remote's return) and long for refusals that only a person can cure (a policy, a quota).
 * The two back off apart: a server coming back from an outage may refuse a request or two (a
 * bucket not there yet) without starting from the refusal's long wait. A file that cannot be
 * read is retried on its own, slower still; its chmod or chown retries it at once elsewhere.
 * Thread-compatible (the event loop owns it). */
class OutagePolicy {
 public:
  static constexpr Millis kFirst{500};           // the first remote retry
  static constexpr Millis kMaxOutage{5'000};     // network, 5xx, throttling
  static constexpr Millis kMaxRefusal{120'000};  // 403, a missing bucket...
  static constexpr Millis kFirstLocal{1'000};    // the first retry of an unreadable file
  static constexpr Millis kMaxLocal{300'000};

  // The remote failed with `e` at `now`: when to try it again. Each failure of the same kind
  // (IsRetryable or not) in a row doubles the wait up to that kind's cap; a failure of the
  // other kind starts that kind's streak from kFirst.
  MonoTime AfterRemoteFailure(MonoTime now, const Error& e);

  // The remote answered: the next failure starts from kFirst.
  void RemoteBack();

  // `rel` could not be read at `now`: when to try it again (kFirstLocal, doubling to kMaxLocal).
  MonoTime AfterLocalFailure(const std::string& rel, MonoTime now);

  // `rel` was read, or is gone: its next failure starts from kFirstLocal.
  void LocalDone(const std::string& rel);

 private:
  int outages_in_a_row_ = 0;
  int refusals_in_a_row_ = 0;
  std::map<std::string, int> local_failures_;  // unreadable files: attempts so far
};

}  // namespace cfgsync
